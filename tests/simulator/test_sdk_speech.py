"""Fidelity: the official SDK's TextToSpeech (synthesize and stream over HTTP), over a real loopback
socket, against the simulator. The SDK's TTSSession (WebSocket /v1/ws) is not faked: see the
simulator's speech_route.py docstring."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from typing import TYPE_CHECKING

import assemblyai as aai
import pytest

from aai_mcp.simulator.speech_audio import MS_PER_CHARACTER

if TYPE_CHECKING:
    from tests.support.simulator_harness import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def tts(live_server: LiveServer) -> Iterator[aai.TextToSpeech]:
    settings = aai.Settings(api_key="sim-key", tts_base_url=live_server.base_url)
    client = aai.Client(settings=settings)
    yield aai.TextToSpeech(client=client)
    client.http_client.close()


def test_sdk_synthesizes_a_playable_wav_and_reads_every_header(tts: aai.TextToSpeech) -> None:
    config = aai.TTSConfig(voice_id="aai-paul", container="wav", sample_rate=22050)
    response = tts.synthesize("Hello from the simulator.", config)
    with wave.open(io.BytesIO(response.audio)) as wav:
        assert wav.getframerate() == 22050
        assert wav.getnframes() == 21 * MS_PER_CHARACTER * 22050 // 1000
    assert response.audio_duration_ms == 21 * MS_PER_CHARACTER
    assert response.billed_characters == len("Hello from the simulator.")
    assert (response.voice_id, response.language, response.encoding) == ("aai-paul", "english", "pcm_s16le")
    assert (response.sample_rate, response.container, response.region) == (22050, "wav", "us-east-1")
    assert response.model == "assemblyai-tts-1" and response.request_id


def test_sdk_streams_the_same_audio(tts: aai.TextToSpeech) -> None:
    with tts.stream("Streaming text", aai.TTSConfig(sample_rate=16000)) as speech:
        audio = b"".join(speech)
        info = speech.info
    assert len(audio) == 13 * MS_PER_CHARACTER * 16 * 2
    assert info.audio_duration_ms is None and info.billed_characters == len("Streaming text")


def test_sdk_reads_the_error_envelope(tts: aai.TextToSpeech) -> None:
    with pytest.raises(aai.TTSError) as refused:
        tts.synthesize("Hi", aai.TTSConfig(voice_id="aai-nobody"))
    assert (refused.value.status_code, refused.value.error_code) == (404, "voice_not_found")
    assert refused.value.param == "voice_id" and refused.value.retryable is False


def test_sdk_sees_a_rate_limit_with_its_retry_after(live_server: LiveServer, tts: aai.TextToSpeech) -> None:
    live_server.simulator.queue_fault("429", path_prefix="/v1/speech")
    with pytest.raises(aai.TTSError) as limited:
        tts.synthesize("Hi")
    assert (limited.value.status_code, limited.value.error_code) == (429, "rate_limited")
    assert limited.value.retryable is True and limited.value.retry_after == 2
