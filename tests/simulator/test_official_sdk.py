"""Fidelity: the official `assemblyai` SDK, over a real loopback socket, against the simulator."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import assemblyai as aai
import httpx
import pytest

from aai_mcp.simulator import SimulatorConfig, run_simulator

if TYPE_CHECKING:
    from tests.support.simulator_harness import LiveServer

# The SDK still calls pydantic v1-style `.dict()`, which warns under pydantic 2.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def write_wav(path: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(range(256)) * int(seconds * rate * 2 / 256))
    return path


@pytest.fixture
def sdk(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setattr(aai.settings, "base_url", live_server.base_url)
    monkeypatch.setattr(aai.settings, "api_key", "sim-key")
    monkeypatch.setattr(aai.settings, "polling_interval", 0.05)
    monkeypatch.setattr(aai.Client, "_default", None)
    yield live_server
    # The SDK caches one default client per settings; close ours so its sockets do not leak.
    if aai.Client._default is not None:
        aai.Client._default.http_client.close()


def test_sdk_transcribes_a_wav_and_reads_every_view(sdk: LiveServer, tmp_path: Path) -> None:
    audio = write_wav(tmp_path / "call.wav")
    config = aai.TranscriptionConfig(speech_models=["universal-3-pro", "universal-2"], speaker_labels=True)
    transcript = aai.Transcriber(config=config).transcribe(str(audio))

    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert transcript.text and "double charge" in transcript.text
    assert transcript.audio_url.startswith("https://cdn.assemblyai.com/upload/")
    assert {u.speaker for u in transcript.utterances or []} == {"A", "B"}
    assert transcript.speech_model_used == "universal-3-pro"
    uploaded = sdk.simulator.uploads[transcript.audio_url.rsplit("/", 1)[1]]
    assert uploaded.size == audio.stat().st_size and uploaded.audio_container == "wav"

    sentences = transcript.get_sentences()
    assert sentences[0].text.startswith("Thank you for calling Northwind Telecom")
    assert sentences[0].speaker == "A"
    assert sum(len(s.words) for s in sentences) == len(transcript.words or [])

    paragraphs = transcript.get_paragraphs()
    assert len(paragraphs) == len(transcript.utterances or [])
    assert "refund" in " ".join(p.text for p in paragraphs)

    srt = transcript.export_subtitles_srt(chars_per_caption=40)
    assert srt.startswith("1\n00:00:00,") and " --> " in srt
    vtt = transcript.export_subtitles_vtt()
    assert vtt.startswith("WEBVTT\n\n") and "Northwind Telecom" in vtt

    matches = {m.text: m for m in transcript.word_search(["refund", "supervisor"])}
    words = transcript.words or []
    assert matches["refund"].count >= 3
    assert all(words[i].text.lower().startswith("refund") for i in matches["refund"].indexes)
    assert matches["supervisor"].timestamps[0] == (
        words[matches["supervisor"].indexes[0]].start,
        words[matches["supervisor"].indexes[0]].end,
    )


def test_sdk_transcript_of_a_two_second_clip_fits_in_two_seconds(sdk: LiveServer, tmp_path: Path) -> None:
    audio = write_wav(tmp_path / "clip.wav", seconds=2.0)
    config = aai.TranscriptionConfig(speech_models=["universal-2"], speaker_labels=True)
    transcript = aai.Transcriber(config=config).transcribe(str(audio))

    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert transcript.audio_duration == 2
    spans = [*(transcript.words or []), *(transcript.utterances or [])]
    spans += [*transcript.get_sentences(), *transcript.get_paragraphs()]
    assert len(spans) > 300 and max(span.end for span in spans) <= 2000
    assert all(0 <= span.start <= span.end for span in spans)


def test_sdk_sees_failed_jobs_and_upstream_errors(sdk: LiveServer, tmp_path: Path) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("definitely not audio\n")
    config = aai.TranscriptionConfig(speech_models=["universal-2"])
    failed = aai.Transcriber(config=config).transcribe(str(text_file))
    assert failed.status == aai.TranscriptStatus.error
    assert failed.error == "File does not appear to contain audio. File type is text/plain (ASCII text)."

    with pytest.raises(aai.types.TranscriptError, match="speech_models is required"):
        aai.Transcriber().transcribe("https://example.com/call.mp3")


def test_sdk_lists_and_deletes(sdk: LiveServer) -> None:
    config = aai.TranscriptionConfig(speech_models=["universal-2"])
    transcript = aai.Transcriber(config=config).transcribe("https://example.com/call.mp3")
    listed = aai.Transcriber().list_transcripts()
    assert listed.transcripts[0].id == transcript.id
    deleted = aai.Transcript.delete_by_id(transcript.id)
    assert deleted.text == "Deleted by user."


def test_reset_fault_drops_a_real_connection(live_server: LiveServer) -> None:
    live_server.simulator.queue_fault("reset", path_prefix="/v2/transcript")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{live_server.base_url}/v2/transcript", headers={"Authorization": "sim-key"})


def test_run_simulator_announces_url_and_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[int] = []
    monkeypatch.setattr(
        "uvicorn.Server.run", lambda self, sockets: served.append(sockets[0].getsockname()[1])
    )
    run_simulator(SimulatorConfig(api_key="k-123"), host="127.0.0.1", port=0)
    line = capsys.readouterr().err.strip()
    assert line == f"AssemblyAI simulator at http://127.0.0.1:{served[0]} (accepted API key: k-123)"
