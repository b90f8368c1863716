"""The key pool shown at the simulator with real processes: `aai-mcp serve --accounts
team=env:A,team=env:B` (a subprocess, its own SQLite store) in front of a simulator holding keys A and
B as two AssemblyAI accounts (uvicorn on loopback in this process, so the test reads what each key
saw), driven by the official `assemblyai` SDK with a team token through `/v1/assemblyai`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import assemblyai as aai
import httpx
import pytest

from aai_mcp.access import Scopes, mint
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from tests.support.proxy_harness import PROXY
from tests.support.redis import RedisServer
from tests.support.servers import clean_env, serve_app_in_thread, serve_in_process, upstream_args, wait_until

# The SDK still calls pydantic v1-style `.dict()`, which warns under pydantic 2.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
SECRET = "pool-sim-signing-secret-0123456789abcdef"
KEY_A = "pool-sim-key-a-0123456789abcdef0123"
KEY_B = "pool-sim-key-b-0123456789abcdef0123"
NAME_A = "team/POOL_KEY_A"
AUDIO_URL = "https://example.com/support-call.mp3"
UNTIL_CLEARED_RETRY_AFTER = 30
TOKEN = mint(SECRET.encode(), name="pool-sim", scopes=Scopes(proxy=True), expires_at=None, account="team")


@dataclass
class Rig:
    """The simulator, the gateway's environment (for `aai-mcp keys` in another process) and the
    proxy's base URL the SDK is configured with."""

    simulator: Simulator
    env: dict[str, str]
    proxy_url: str

    def get(self, transcript_id: str) -> httpx.Response:
        """A follow-up through the proxy, answered as the SDK would see it."""
        url = f"{self.proxy_url}/v2/transcript/{transcript_id}"
        return httpx.get(url, headers={"authorization": TOKEN.token}, timeout=60)

    def listed_with(self, key: str) -> bool:
        """Lists through the proxy; True once a list went out with `key` (the first usable key)."""
        url = f"{self.proxy_url}/v2/transcript"
        httpx.get(url, headers={"authorization": TOKEN.token}, timeout=60).raise_for_status()
        return "/v2/transcript" in self.paths_seen(key)

    def keys(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "aai_mcp", "keys", *args]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=120)

    def paths_seen(self, key: str) -> list[str]:
        return [r.path for r in self.simulator.requests_of(key)]

    def owns(self, key: str, transcript_id: str) -> bool:
        return self.simulator.account(key).transcripts.get(transcript_id) is not None


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_redis: RedisServer) -> Iterator[Rig]:
    config = SimulatorConfig(
        api_key=KEY_A,
        api_keys=(KEY_B,),
        processing_delay_seconds=0.2,
        retry_after_seconds=UNTIL_CLEARED_RETRY_AFTER,
    )
    app = build_simulator_app(config)
    env = clean_env(
        ASSEMBLYAI_API_KEY=KEY_A,  # a real upstream (the simulator on loopback), not serve's own one
        AAI_MCP_TOKEN_SECRETS=SECRET,
        AAI_MCP_ACCOUNTS="team=env:POOL_KEY_A,team=env:POOL_KEY_B",
        AAI_MCP_DATA_DIR=str(tmp_path / "data"),
        POOL_KEY_A=KEY_A,
        POOL_KEY_B=KEY_B,
        # As deployed with several instances: `aai-mcp keys enable` publishes the change, and the
        # running server applies it as the message arrives (without Redis: at its next 5 s refresh).
        AAI_MCP_REDIS_URL=shared_redis.url,
    )
    with (
        serve_app_in_thread(app) as simulator_url,
        serve_in_process("--auth", "tokens", *upstream_args(simulator_url), env=env) as server,
    ):
        proxy_url = server.base_url + PROXY
        monkeypatch.setattr(aai.settings, "base_url", proxy_url)
        monkeypatch.setattr(aai.settings, "api_key", TOKEN.token)
        monkeypatch.setattr(aai.settings, "polling_interval", 0.05)
        monkeypatch.setattr(aai.Client, "_default", None)
        try:
            yield Rig(app.state.simulator, env, proxy_url)
        finally:
            if aai.Client._default is not None:
                aai.Client._default.http_client.close()


def create(rig: Rig) -> httpx.Response:
    """A transcript request through the proxy, answered as the SDK would see it."""
    body = {"audio_url": AUDIO_URL, "speech_models": ["universal-2"]}
    url = f"{rig.proxy_url}/v2/transcript"
    return httpx.post(url, json=body, headers={"authorization": TOKEN.token}, timeout=60)


def tid(transcript: aai.Transcript) -> str:
    assert transcript.id is not None
    return transcript.id


def transcriber() -> aai.Transcriber:
    return aai.Transcriber(config=aai.TranscriptionConfig(speech_models=["universal-3-pro", "universal-2"]))


def transcribed() -> aai.Transcript:
    transcript = transcriber().transcribe(AUDIO_URL)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    return transcript


def test_a_429_moves_new_work_to_b_while_a_keeps_its_transcripts(rig: Rig) -> None:
    first = transcribed()
    assert rig.owns(KEY_A, tid(first)) and rig.paths_seen(KEY_B) == []
    rig.simulator.limit_key(KEY_A)  # until cleared: its 429s say Retry-After 30
    second = transcriber().submit(AUDIO_URL)  # A answers 429: not processed, so sent again with B
    assert rig.owns(KEY_B, tid(second)) and not rig.owns(KEY_A, tid(second))
    follow_up = rig.get(tid(first))  # A cools down in the pool: refused here, never sent to B
    assert follow_up.status_code == 503, follow_up.text
    assert follow_up.json()["code"] == "no_usable_key"
    assert 1 <= int(follow_up.headers["retry-after"]) <= UNTIL_CLEARED_RETRY_AFTER
    # The SDK shows the proxy's message (its `error`), not the code beside it.
    with pytest.raises(
        aai.types.TranscriptError, match=rf"key that made this resource \({NAME_A}\) is cooling down"
    ) as refused:
        aai.Transcript.get_by_id(tid(first))
    assert refused.value.status_code == 503
    third = transcribed()  # new work while A cools: straight to B, A not even tried
    assert rig.owns(KEY_B, tid(third))
    assert second.wait_for_completion().status == aai.TranscriptStatus.completed
    rig.simulator.clear_key(KEY_A)
    assert rig.keys("enable", NAME_A).returncode == 0  # the operator ends the cooldown early
    # Published through Redis; until the server has it, a follow-up is a 503 with no upstream call.
    wait_until(lambda: rig.get(tid(first)).status_code == 200, 30, "keys enable to reach the server")
    assert aai.Transcript.get_by_id(tid(first)).text == first.text  # with A again: B would not know it
    assert rig.simulator.account(KEY_A).refused == {429: 1}  # one refusal, no call spent while cooling
    assert not any(tid(first) in path for path in rig.paths_seen(KEY_B))
    assert any(tid(second) in path for path in rig.paths_seen(KEY_B))
    assert not any(t in path for t in (tid(second), tid(third)) for path in rig.paths_seen(KEY_A))
    billed_a, billed_b = rig.simulator.billing(KEY_A), rig.simulator.billing(KEY_B)
    assert (billed_a.transcripts_completed, billed_b.transcripts_completed) == (1, 2)
    assert billed_a.audio_seconds == first.audio_duration
    assert billed_b.audio_seconds == (second.audio_duration or 0) + (third.audio_duration or 0)


def test_both_keys_limited_gives_the_sdk_503_no_usable_key_with_retry_after(rig: Rig) -> None:
    rig.simulator.limit_key(KEY_A, 40)
    rig.simulator.limit_key(KEY_B, 12)
    with pytest.raises(
        aai.types.TranscriptError, match="key of account 'team' is cooling down or disabled"
    ) as refused:
        transcriber().transcribe(AUDIO_URL)
    assert refused.value.status_code == 503
    answer = create(rig)
    assert answer.status_code == 503
    assert answer.json()["code"] == "no_usable_key"
    assert 1 <= int(answer.headers["retry-after"]) <= 12  # the soonest key back: B's
    for key in (KEY_A, KEY_B):  # each tried once; the second request cost no upstream call
        assert rig.simulator.account(key).refused == {429: 1}
        assert len(rig.simulator.account(key).transcripts) == 0
    # B's cooldown ends by itself (its Retry-After, as the simulator's limit does): work goes on with
    # B, while A, still cooling, is not tried.
    wait_until(lambda: create(rig).status_code == 200, timeout=60, what="B back", interval=0.25)
    assert rig.owns(KEY_B, tid(transcribed()))
    assert rig.simulator.account(KEY_A).refused == {429: 1}


def test_a_rejected_key_stays_out_until_aai_mcp_keys_enable(rig: Rig) -> None:
    rig.simulator.reject_key(KEY_A)
    first = transcribed()  # A answers 401: not processed, so sent again with B
    assert rig.owns(KEY_B, tid(first))
    rig.simulator.clear_key(KEY_A)  # fixed upstream, but nobody told the pool yet
    second = transcribed()
    assert rig.owns(KEY_B, tid(second))
    account_a = rig.simulator.account(KEY_A)
    assert account_a.refused == {401: 1} and sum(account_a.answered.values()) == 0
    listed = rig.keys("list")
    assert listed.returncode == 0, listed.stderr
    assert f"{NAME_A}\tweight 1\tdisabled (upstream answered 401)" in listed.stdout
    assert KEY_A not in listed.stdout + listed.stderr
    enabled = rig.keys("enable", NAME_A)
    assert enabled.returncode == 0, enabled.stderr
    wait_until(lambda: rig.listed_with(KEY_A), 30, "keys enable to reach the server")
    third = transcribed()  # A is back, and first in the pool's order when loads are equal
    assert rig.owns(KEY_A, tid(third))
    assert rig.simulator.billing(KEY_A).transcripts_completed == 1
