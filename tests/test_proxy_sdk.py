"""The official `assemblyai` SDK, configured only with the proxy's base URL and a team token, over a
real loopback socket, with the built-in simulator upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import assemblyai as aai
import pytest

from aai_mcp.access import Scopes
from aai_mcp.gateway import build_gateway
from tests.support import CANARY_KEY, make_settings, wav_bytes
from tests.support.proxy_harness import PROXY, SECRET, proxy_token
from tests.support.servers import serve_gateway_in_thread

# The SDK still calls pydantic v1-style `.dict()`, which warns under pydantic 2.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
AUDIO_URL = "https://example.com/support-call.mp3"


def transcriber() -> aai.Transcriber:
    return aai.Transcriber(config=aai.TranscriptionConfig(speech_models=["universal-3-pro", "universal-2"]))


@pytest.fixture
def sdk_via_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    settings = make_settings(api_key=None, simulator_delay_seconds=0.0, auth=["tokens"], token_secrets=SECRET)
    with serve_gateway_in_thread(build_gateway(settings)) as base_url:
        monkeypatch.setattr(aai.settings, "base_url", base_url + PROXY)
        monkeypatch.setattr(aai.settings, "llm_gateway_base_url", base_url + PROXY + "/llm-gateway")
        monkeypatch.setattr(aai.settings, "api_key", proxy_token())
        monkeypatch.setattr(aai.settings, "polling_interval", 0.05)
        monkeypatch.setattr(aai.Client, "_default", None)
        yield base_url
        if aai.Client._default is not None:
            aai.Client._default.http_client.close()


def test_sdk_transcribes_from_a_url_and_lists(sdk_via_proxy: str) -> None:
    transcript = transcriber().transcribe(AUDIO_URL)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert transcript.text
    assert transcript.get_sentences()
    listed = aai.Transcriber().list_transcripts()
    assert transcript.id in {item.id for item in listed.transcripts}
    assert CANARY_KEY not in (transcript.json_response or {}).__repr__()


def test_sdk_uploads_a_local_file_through_the_proxy(sdk_via_proxy: str, tmp_path: Path) -> None:
    audio = tmp_path / "call.wav"
    audio.write_bytes(wav_bytes(1.0))
    transcript = transcriber().transcribe(str(audio))
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert transcript.audio_url.startswith("https://cdn.assemblyai.com/upload/")


def test_sdk_with_a_token_lacking_the_proxy_scope_is_refused(
    sdk_via_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aai.settings, "api_key", proxy_token(Scopes()))
    monkeypatch.setattr(aai.Client, "_default", None)
    with pytest.raises(aai.types.TranscriptError) as refused:
        transcriber().transcribe(AUDIO_URL)
    # The SDK shows the body's `error` as is: the proxy's message, not the repr of a dict.
    reason = "this token's scopes do not include the team proxy (mint one with --proxy)"
    assert str(refused.value).endswith(f": {reason}")


def test_sdk_detects_the_language_and_exports_sentences_paragraphs_and_subtitles(sdk_via_proxy: str) -> None:
    models = ["universal-3-pro", "universal-2"]
    config = aai.TranscriptionConfig(speech_models=models, language_detection=True)
    transcript = aai.Transcriber(config=config).transcribe(AUDIO_URL)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    answer = transcript.json_response or {}
    assert answer["language_detection"] is True and answer["language_code"]
    sentences, paragraphs = transcript.get_sentences(), transcript.get_paragraphs()
    assert sentences and paragraphs
    assert " ".join(sentence.text for sentence in sentences).split() == (transcript.text or "").split()
    srt, vtt = transcript.export_subtitles_srt(), transcript.export_subtitles_vtt(chars_per_caption=32)
    assert srt.startswith("1\n") and "-->" in srt
    assert vtt.startswith("WEBVTT") and "-->" in vtt


def test_sdk_deletes_a_transcript_through_the_proxy(sdk_via_proxy: str) -> None:
    transcript = transcriber().transcribe(AUDIO_URL)
    assert transcript.status == aai.TranscriptStatus.completed and transcript.id, transcript.error
    aai.Transcript.delete_by_id(transcript.id)
    again = aai.Transcript.get_by_id(transcript.id)
    # AssemblyAI keeps a deleted transcript's id and status, with its text blanked.
    assert again.text != transcript.text


def test_sdk_llm_gateway_answers_about_a_transcript(sdk_via_proxy: str) -> None:
    transcript = transcriber().transcribe(AUDIO_URL)
    assert transcript.status == aai.TranscriptStatus.completed and transcript.id, transcript.error
    gateway = aai.LLMGateway()
    completion = gateway.chat.completions.create(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "Summarize the call in one line."}]
    )
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.total_tokens > 0
    understood = gateway.understanding.create(
        transcript_id=transcript.id,
        request={"translation": {"target_languages": ["de"]}},
    )
    assert understood.speech_understanding is not None
