"""The Sync STT and Dictation endpoints: config part first (else 400), the model header, limits,
problem-details errors, fault injection, and each host reached by its own name or prefix."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from aai_mcp.upstream.config_first import config_first_body
from tests.support import wav_bytes

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

SYNC = "/sync/v1/transcribe/live"
DICTATION = "/dictation/v1/transcribe/live"
MODEL = {"X-AAI-Model": "universal-3-5-pro"}


def multipart(config: dict[str, Any], audio: bytes, kind: str = "audio/wav") -> tuple[bytes, dict[str, str]]:
    body, content_type = config_first_body(config, audio, "clip.wav", kind)
    return body, {"Content-Type": content_type}


async def post(sim: Harness, url: str, config: dict[str, Any], audio: bytes, **headers: str) -> Any:
    body, framing = multipart(config, audio)
    return await sim.client.post(url, content=body, headers={**framing, **headers})


async def test_sync_transcribes_a_clip_with_timestamps(sim: Harness) -> None:
    response = await post(sim, SYNC, {"timestamps": True}, wav_bytes(3.0), **MODEL)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["audio_duration_ms"] == 3000 and answer["text"]
    assert set(answer) >= {
        "text",
        "confidence",
        "audio_duration_ms",
        "session_id",
        "request_time_ms",
        "words",
    }
    assert answer["words"][-1]["end"] <= 3000 and answer["words"][0]["start"] == 0
    untimed = (await post(sim, SYNC, {}, wav_bytes(1.0), **MODEL)).json()
    assert untimed["words"][0]["start"] is None


async def test_audio_before_config_is_refused(sim: Harness) -> None:
    boundary = "b" * 32
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + wav_bytes(1.0)
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="config"\r\n'
            f"Content-Type: application/json\r\n\r\n{{}}\r\n--{boundary}--\r\n"
        ).encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    for url, extra in ((SYNC, MODEL), (DICTATION, {})):
        response = await sim.client.post(url, content=body, headers={**headers, **extra})
        assert response.status_code == 400
        assert response.json() == {
            "status": 400,
            "title": "Bad Request",
            "detail": "The config part must come before the audio part.",
        }


async def test_sync_wants_its_model_header(sim: Harness) -> None:
    response = await post(sim, SYNC, {}, wav_bytes(1.0))
    assert response.status_code == 400 and "X-AAI-Model" in response.json()["detail"]


@pytest.mark.parametrize(
    ("audio", "status", "title"),
    [
        (wav_bytes(121.0), 413, "Audio Too Large"),
        (wav_bytes(0.05), 400, "Audio Too Short"),
        (b"ID3" + bytes(4000), 415, "Unsupported Media Type"),
    ],
)
async def test_limits(sim: Harness, audio: bytes, status: int, title: str) -> None:
    response = await post(sim, SYNC, {}, audio, **MODEL)
    assert response.status_code == status and response.json()["title"] == title


async def test_raw_pcm_needs_its_rate_and_channels(sim: Harness) -> None:
    body, framing = multipart({}, bytes(32000), "audio/pcm")
    refused = await sim.client.post(SYNC, content=body, headers={**framing, **MODEL})
    assert refused.status_code == 400 and refused.json()["title"] == "Bad Audio"
    body, framing = multipart({"sample_rate": 16000, "channels": 1}, bytes(32000), "audio/pcm")
    ok = await sim.client.post(SYNC, content=body, headers={**framing, **MODEL})
    assert ok.status_code == 200 and ok.json()["audio_duration_ms"] == 1000


async def test_dictation_rewrites_and_refuses_unknown_config(sim: Harness) -> None:
    response = await post(sim, DICTATION, {"llm_instruction": "Make a bulleted list."}, wav_bytes(4.0))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["llm_response"].startswith("- ") and answer["llm_error"] is None
    assert "start" not in answer["words"][0]  # dictation words carry no timestamps
    unknown = await post(sim, DICTATION, {"timestamps": True}, wav_bytes(1.0))
    assert unknown.status_code == 400 and "timestamps" in unknown.json()["detail"]
    too_long = await post(sim, DICTATION, {"llm_instruction": "x" * 2049}, wav_bytes(1.0))
    assert too_long.status_code == 400


async def test_a_real_host_name_reaches_its_api(sim: Harness) -> None:
    body, framing = multipart({}, wav_bytes(1.0))
    sync = await sim.client.post(
        "https://sync.eu.assemblyai.com/v1/transcribe/live", content=body, headers={**framing, **MODEL}
    )
    dictation = await sim.client.post(
        "https://dictation.assemblyai.com/v1/transcribe/live", content=body, headers=framing
    )
    assert sync.status_code == 200 and "llm_response" not in sync.json()
    assert dictation.status_code == 200 and "llm_response" in dictation.json()


async def test_faults_and_auth_apply_in_problem_details(sim: Harness) -> None:
    sim.simulator.queue_fault("429", path_prefix="/sync/")
    limited = await post(sim, SYNC, {}, wav_bytes(1.0), **MODEL)
    assert limited.status_code == 429 and limited.headers["retry-after"].isdigit()
    assert limited.json()["title"] == "Too Many Requests"
    sim.simulator.queue_fault("503", path_prefix="/dictation/")
    assert (await post(sim, DICTATION, {}, wav_bytes(1.0))).status_code == 503
    body, framing = multipart({}, wav_bytes(1.0))
    anonymous = await sim.client.post(
        SYNC, content=body, headers={**framing, **MODEL, "Authorization": "wrong"}
    )
    assert anonymous.status_code == 401 and json.loads(anonymous.text)["detail"] == "Invalid API key"
    assert (await post(sim, SYNC, {}, wav_bytes(1.0), **MODEL)).status_code == 200
