"""Quotas and usage with the official `assemblyai` SDK as the team's client, over a real loopback
socket with the built-in simulator upstream: what the SDK's transcripts say they lasted is what the
store counts, and once the team's monthly audio is spent the SDK is refused with 429 team_quota."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import assemblyai as aai
import httpx
import pytest

from aai_mcp.state.store import UsageTotals
from aai_mcp.state.store_sql import SqlStore
from tests.support import wav_bytes
from tests.support.proxy_harness import PROXY
from tests.support.quota_rig import AUTH, SIMULATOR_KEY, TEAM, TEAM_KEY_ENV, simulated_gateway
from tests.support.servers import serve_gateway_in_thread

# The SDK still calls pydantic v1-style `.dict()`, which warns under pydantic 2.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def sdk_team(monkeypatch: pytest.MonkeyPatch, store: SqlStore) -> Iterator[str]:
    monkeypatch.setenv(TEAM_KEY_ENV, SIMULATOR_KEY)
    gateway = simulated_gateway(store, f"{TEAM}:audio_hours=0.001")  # 3.6 s: limit 3 s of audio
    with serve_gateway_in_thread(gateway) as base_url:
        monkeypatch.setattr(aai.settings, "base_url", base_url + PROXY)
        monkeypatch.setattr(aai.settings, "api_key", AUTH["authorization"])
        monkeypatch.setattr(aai.settings, "polling_interval", 0.05)
        monkeypatch.setattr(aai.Client, "_default", None)
        yield base_url
        if aai.Client._default is not None:
            aai.Client._default.http_client.close()


def test_the_sdk_is_counted_then_refused_over_the_monthly_audio(
    sdk_team: str, store: SqlStore, tmp_path: Path
) -> None:
    audio = tmp_path / "call.wav"
    audio.write_bytes(wav_bytes(4.0))
    config = aai.TranscriptionConfig(speech_models=["universal-3-pro", "universal-2"])
    transcript = aai.Transcriber(config=config).transcribe(str(audio))
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert store.usage_totals(0) == [UsageTotals(TEAM, float(transcript.audio_duration or 0), 1)]
    with pytest.raises(aai.types.TranscriptError) as refused:
        aai.Transcriber(config=config).submit(transcript.audio_url)
    # The SDK shows the proxy's message (AssemblyAI's own `error` field).
    assert "has transcribed its 0.001 audio hours of this month (UTC)" in str(refused.value)
    raw = httpx.post(
        f"{sdk_team}{PROXY}/v2/transcript", json={"audio_url": transcript.audio_url}, headers=AUTH
    )
    assert raw.status_code == 429 and raw.json()["code"] == "team_quota"
    assert raw.headers["ratelimit-limit"] == "3" and raw.headers["ratelimit-remaining"] == "0"
    assert int(raw.headers["retry-after"]) == int(raw.headers["ratelimit-reset"]) > 0
