"""Fidelity: the official `assemblyai` SDK's Sync STT and Dictation clients, over a real loopback
socket, against the simulator (its chunked, config-first multipart; its error parsing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import assemblyai as aai
import pytest

from tests.support import wav_bytes

if TYPE_CHECKING:
    from tests.support.simulator_harness import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def sdk(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    # The simulator serves each one-request API under its host's prefix (both use /v1/transcribe/live).
    monkeypatch.setattr(aai.settings, "sync_base_url", f"{live_server.base_url}/sync")
    monkeypatch.setattr(aai.settings, "dictation_base_url", f"{live_server.base_url}/dictation")
    monkeypatch.setattr(aai.settings, "api_key", "sim-key")
    monkeypatch.setattr(aai.Client, "_default", None)
    yield live_server
    if aai.Client._default is not None:
        aai.Client._default.http_client.close()


def test_sync_transcriber_transcribes_a_file_and_bytes(sdk: LiveServer, tmp_path: Path) -> None:
    clip = tmp_path / "note.wav"
    clip.write_bytes(wav_bytes(3.0))
    with aai.SyncTranscriber() as transcriber:
        answer = transcriber.transcribe(str(clip), aai.SyncTranscriptionConfig(timestamps=True))
        assert answer.audio_duration_ms == 3000 and answer.text
        assert answer.words[0].start == 0 and answer.words[-1].end is not None
        pcm = transcriber.transcribe(bytes(32000), aai.SyncTranscriptionConfig(sample_rate=16000, channels=1))
        assert pcm.audio_duration_ms == 1000
        assert transcriber.warm()
    sent = [r for r in sdk.simulator.requests if r.path == "/sync/v1/transcribe/live"]
    assert len(sent) == 2


def test_sync_errors_reach_the_sdk_with_code_and_retry_after(sdk: LiveServer) -> None:
    with aai.SyncTranscriber() as transcriber:
        with pytest.raises(aai.SyncTranscriptError) as too_long:
            transcriber.transcribe(wav_bytes(121.0))
        assert too_long.value.status_code == 413 and too_long.value.error_code == "audio_too_large"
        sdk.simulator.queue_fault("429", path_prefix="/sync/")
        with pytest.raises(aai.SyncTranscriptError) as limited:
            transcriber.transcribe(wav_bytes(1.0))
        assert limited.value.status_code == 429 and limited.value.retry_after == 2


def test_dictation_transcriber_rewrites_by_instruction(sdk: LiveServer) -> None:
    config = aai.DictationConfig(llm_instruction="Make a bulleted list.", rewrite_mode="smart")
    with aai.DictationTranscriber() as transcriber:
        answer = transcriber.transcribe_live(wav_bytes(4.0), config)
        assert answer.text and answer.llm_response and answer.llm_response.startswith("- ")
        assert answer.final_text == answer.llm_response and answer.llm_error is None
        live = transcriber.transcribe_live(wav_bytes(2.0))
        assert live.audio_duration_ms == 2000
    assert sum(r.path == "/dictation/v1/transcribe/live" for r in sdk.simulator.requests) == 2


def test_live_sessions_push_raw_pcm_in_chunks(sdk: LiveServer) -> None:
    """open_live: the chunked upload a microphone callback makes (raw 16 kHz mono PCM, 0.1 s a write)."""
    second = bytes(32000)
    with aai.DictationTranscriber() as dictation:
        with dictation.open_live(aai.DictationConfig(sample_rate=16000, channels=1)) as session:
            for start in range(0, len(second) * 2, 3200):
                session.write((second * 2)[start : start + 3200])
        assert session.result().audio_duration_ms == 2000
    with aai.SyncTranscriber() as sync:
        with sync.open_live(aai.SyncTranscriptionConfig(sample_rate=16000, channels=1)) as live:
            for start in range(0, len(second), 3200):
                live.write(second[start : start + 3200])
        assert live.result().audio_duration_ms == 1000
