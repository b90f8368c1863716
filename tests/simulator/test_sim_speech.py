"""POST /v1/speech and the TTS token: playable audio whose length follows the text, the metadata
headers, TTS's error envelope and fault injection (ENDPOINTS-SDK-2026-10.md §3.1-3.2)."""

from __future__ import annotations

import io
import wave
from typing import TYPE_CHECKING, Any

import pytest

from aai_mcp.simulator.speech_audio import MS_PER_CHARACTER

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

ADMIN = {"Host": "127.0.0.1:8765"}


async def speak(sim: Harness, **body: Any) -> Any:
    return await sim.client.post("/v1/speech", json={"stream": False, **body})


@pytest.mark.parametrize(("text", "spoken"), [("Hello world", 10), ("A" * 50, 50), ("Hi!", 2)])
async def test_a_wav_plays_for_a_length_that_follows_the_text(sim: Harness, text: str, spoken: int) -> None:
    response = await speak(sim, text=text, container="wav", sample_rate=16000)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.getnframes() == spoken * MS_PER_CHARACTER * 16
        assert max(wav.readframes(wav.getnframes())) > 0  # a tone, not silence
    assert response.headers["x-tts-audio-duration-ms"] == str(spoken * MS_PER_CHARACTER)
    assert response.headers["x-tts-billed-characters"] == str(len(text))
    assert response.headers["content-length"] == str(len(response.content))


async def test_metadata_headers_name_what_was_made(sim: Harness) -> None:
    response = await speak(sim, text="Bonjour", voice_id="aai-jean", encoding="mulaw", sample_rate=8000)
    headers = response.headers
    assert headers["content-type"] == "audio/PCMU;rate=8000;channels=1"
    assert (headers["x-tts-voice-id"], headers["x-tts-language"]) == ("aai-jean", "french")
    assert (headers["x-tts-encoding"], headers["x-tts-sample-rate"]) == ("pcm_mulaw", "8000")
    assert headers["x-tts-container"] == "raw" and "x-tts-bit-rate" not in headers
    assert headers["x-tts-model"] == "assemblyai-tts-1" and headers["x-request-id"]
    assert len(response.content) == 7 * MS_PER_CHARACTER * 8  # one byte a sample


async def test_mp3_is_mpeg_frames_with_a_bit_rate(sim: Harness) -> None:
    response = await speak(sim, text="Hello there", encoding="mp3", bit_rate=32000)
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["x-tts-bit-rate"] == "32000" and "x-tts-container" not in response.headers
    assert response.content[:2] == b"\xff\xf3"  # MPEG-2 Layer III sync word at 24 kHz


async def test_nothing_to_speak_bills_nothing(sim: Harness) -> None:
    response = await speak(sim, text="🙂🙂", container="wav")
    assert response.headers["x-tts-billed-characters"] == "0"
    with wave.open(io.BytesIO(response.content)) as wav:
        assert wav.getnframes() == 0


async def test_a_streamed_answer_has_no_duration_and_an_open_ended_wav(sim: Harness) -> None:
    response = await sim.client.post("/v1/speech", json={"text": "Streaming", "container": "wav"})
    assert response.status_code == 200
    assert "x-tts-audio-duration-ms" not in response.headers
    assert response.content[4:8] == b"\xff\xff\xff\xff"


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"text": ""}, 400, "invalid_parameter", "text"),
        ({"text": "x" * 5001}, 400, "invalid_parameter", "text"),
        ({"text": "hi", "voice": "aai-jane"}, 400, "invalid_parameter", "voice"),
        ({"text": "hi", "sample_rate": 11025}, 400, "invalid_parameter", "sample_rate"),
        ({"text": "hi", "encoding": "mp3", "container": "wav"}, 400, "invalid_parameter", "container"),
        ({"text": "hi", "bit_rate": 64000}, 400, "invalid_parameter", "bit_rate"),
        (
            {"text": "hi", "encoding": "mp3", "sample_rate": 8000, "bit_rate": 96000},
            400,
            "invalid_parameter",
            "bit_rate",
        ),
        ({"text": "hi", "voice_id": "aai-nobody"}, 404, "voice_not_found", "voice_id"),
    ],
)
async def test_refusals_use_the_tts_envelope(
    sim: Harness, body: dict[str, Any], status: int, code: str, param: str
) -> None:
    response = await speak(sim, **body)
    assert response.status_code == status
    envelope = response.json()
    assert (envelope["code"], envelope["param"]) == (code, param)
    assert envelope["request_id"] and envelope["retryable"] is False


async def test_a_wrong_key_is_401_in_the_envelope(sim: Harness) -> None:
    response = await sim.client.post("/v1/speech", json={"text": "hi"}, headers={"Authorization": "nope"})
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


async def test_faults_apply_to_speech(sim: Harness) -> None:
    queued = await sim.client.post(
        "/_sim/faults", json={"fault": "429", "count": 1, "path_prefix": "/v1/speech"}, headers=ADMIN
    )
    assert queued.status_code == 200
    limited = await speak(sim, text="hi")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert limited.json()["code"] == "rate_limited" and limited.json()["retryable"] is True
    assert (await speak(sim, text="hi")).status_code == 200


async def test_tts_token_is_minted_for_the_tts_audience(sim: Harness) -> None:
    response = await sim.client.get("/v1/token", params={"product": "tts", "expires_in_seconds": 60})
    assert response.status_code == 200
    token = response.json()["token"]
    assert sim.simulator.tokens[token].audience == "tts"
    assert response.json()["expires_in_seconds"] == 60


@pytest.mark.parametrize(
    "params",
    [
        {"product": "tts", "expires_in_seconds": 601},
        {"product": "tts"},
        {"product": "stt", "expires_in_seconds": 5},
    ],
)
async def test_tts_token_bounds(sim: Harness, params: dict[str, Any]) -> None:
    response = await sim.client.get("/v1/token", params=params)
    assert response.status_code == 400
