"""The official `assemblyai` SDK 1.8.2's SyncTranscriber, DictationTranscriber and TextToSpeech,
configured only with the proxy's base URLs and a team token, over a real loopback socket, with the
built-in simulator upstream: main calls, errors with Retry-After, usage counted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import assemblyai as aai
import pytest

from aai_mcp.access import Scopes
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.simulator.account_state import Simulator
from tests.support import CANARY_KEY, make_settings, wav_bytes
from tests.support.proxy_harness import PROXY, SECRET, proxy_token
from tests.support.servers import serve_gateway_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
TEXT = "Hello through the team proxy."


@dataclass
class Proxied:
    gateway: Gateway
    simulator: Simulator
    base_url: str

    def metric(self, name: str) -> float:
        prefix = f'aai_mcp_team_{name}_total{{team="default"}} '
        scrape = self.gateway.metrics.exposition().decode()
        line = next((line for line in scrape.splitlines() if line.startswith(prefix)), None)
        return 0.0 if line is None else float(line.removeprefix(prefix))


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxied]:
    settings = make_settings(api_key=None, simulator_delay_seconds=0.0, auth=["tokens"], token_secrets=SECRET)
    gateway = build_gateway(settings)
    simulator = gateway.in_process_app.state.simulator  # type: ignore[union-attr]
    with serve_gateway_in_thread(gateway) as base_url:
        monkeypatch.setattr(aai.settings, "sync_base_url", base_url + PROXY + "/sync")
        monkeypatch.setattr(aai.settings, "dictation_base_url", base_url + PROXY + "/dictation")
        monkeypatch.setattr(aai.settings, "api_key", proxy_token())
        monkeypatch.setattr(aai.Client, "_default", None)
        yield Proxied(gateway, simulator, base_url)
        if aai.Client._default is not None:
            aai.Client._default.http_client.close()


def tts_client(proxied: Proxied, token: str) -> tuple[aai.Client, aai.TextToSpeech]:
    client = aai.Client(settings=aai.Settings(api_key=token, tts_base_url=proxied.base_url + PROXY + "/tts"))
    return client, aai.TextToSpeech(client=client)


def test_sync_transcriber_through_the_proxy(proxied: Proxied) -> None:
    with aai.SyncTranscriber() as transcriber:
        answer = transcriber.transcribe(wav_bytes(3.0), aai.SyncTranscriptionConfig(timestamps=True))
        assert answer.audio_duration_ms == 3000 and answer.text
        assert answer.words and answer.words[-1].end is not None
        assert transcriber.warm()
    assert proxied.metric("clip_seconds") == 3.0


def test_dictation_transcriber_through_the_proxy(proxied: Proxied) -> None:
    config = aai.DictationConfig(llm_instruction="Make a bulleted list.", rewrite_mode="smart")
    with aai.DictationTranscriber() as transcriber:
        answer = transcriber.transcribe_live(wav_bytes(2.0), config)
    assert answer.audio_duration_ms == 2000 and answer.llm_response and answer.llm_response.startswith("- ")
    assert proxied.metric("clip_seconds") == 2.0


def test_text_to_speech_through_the_proxy(proxied: Proxied) -> None:
    client, tts = tts_client(proxied, proxy_token())
    try:
        response = tts.synthesize(TEXT, aai.TTSConfig(voice_id="aai-paul", container="wav"))
        with tts.stream(TEXT, aai.TTSConfig(sample_rate=16000)) as speech:
            streamed = b"".join(speech)
    finally:
        client.http_client.close()
    assert response.audio[:4] == b"RIFF" and response.billed_characters == len(TEXT)
    assert response.voice_id == "aai-paul" and streamed
    assert proxied.metric("tts_characters") == 2 * len(TEXT)
    assert proxied.simulator.account_at(0).usage.tts_characters == 2 * len(TEXT)  # what upstream billed
    assert CANARY_KEY not in repr(response)


def test_rate_limits_reach_the_sdk_with_their_retry_after(proxied: Proxied) -> None:
    proxied.simulator.queue_fault("429", path_prefix="/sync/")
    with aai.SyncTranscriber() as transcriber, pytest.raises(aai.SyncTranscriptError) as limited:
        transcriber.transcribe(wav_bytes(1.0))
    assert limited.value.status_code == 429 and limited.value.retry_after == 2
    proxied.simulator.queue_fault("429", path_prefix="/v1/speech")
    client, tts = tts_client(proxied, proxy_token())
    try:
        with pytest.raises(aai.TTSError) as refused:
            tts.synthesize(TEXT)
    finally:
        client.http_client.close()
    assert (refused.value.status_code, refused.value.retry_after) == (429, 2)
    assert proxied.metric("clip_seconds") == 0 and proxied.metric("tts_characters") == 0


def test_a_token_without_the_effect_is_refused_before_upstream(proxied: Proxied) -> None:
    client, tts = tts_client(proxied, proxy_token(Scopes(proxy=True, methods=["transcription"])))
    try:
        with pytest.raises(aai.TTSError) as refused:
            tts.synthesize(TEXT)
    finally:
        client.http_client.close()
    assert refused.value.status_code == 403
    assert proxied.simulator.account_at(0).usage.tts_characters == 0  # nothing reached upstream
