"""The team proxy forwards the 2026-10 APIs (Sync STT, Dictation, TTS over HTTP, the TTS token) to
their own hosts, with the access model of the tools (effects), their usage metered by its unit
(clip audio seconds, TTS characters), upstream's 429 passed through, and the key never returned."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp.client import Client

from aai_mcp.access import Scopes
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.proxy.allowlist import resolve
from aai_mcp.state.store import UsageTotals
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.upstream.usage import metered_call
from tests.support import CANARY_KEY, wav_bytes
from tests.support.proxy_harness import PROXY, RecordingUpstream, proxy_client, proxy_gateway, proxy_token
from tests.support.quota_rig import AUTH, SIMULATOR_KEY, TEAM, TEAM_KEY_ENV, simulated_gateway, simulator_app
from tests.support.two_accounts import KEY_A, KEY_B

pytestmark = pytest.mark.anyio
SYNC = f"{PROXY}/sync/v1/transcribe/live"
DICTATION = f"{PROXY}/dictation/v1/transcribe/live"
SPEECH = f"{PROXY}/tts/v1/speech"
TTS_TOKEN = f"{PROXY}/tts-token/v1/token"
TEXT = "Hello from the proxy."


@pytest.fixture(autouse=True)
def team_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(TEAM_KEY_ENV, SIMULATOR_KEY)
    yield


def clip(seconds: float, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The SDK's multipart: the config part first, then the audio (the order the APIs enforce)."""
    return {
        "config": (None, json.dumps(config or {}), "application/json"),
        "audio": ("note.wav", wav_bytes(seconds), "audio/wav"),
    }


def default_headers(**scopes: Any) -> dict[str, str]:
    """A token of the default account, whose upstream key is the server's (CANARY_KEY)."""
    return {"authorization": proxy_token(Scopes(proxy=True, **scopes))}


def metric(scrape: str, name: str) -> float:
    prefix = f'aai_mcp_team_{name}_total{{team="{TEAM}"}} '
    line = next((line for line in scrape.splitlines() if line.startswith(prefix)), None)
    return 0.0 if line is None else float(line.removeprefix(prefix))


@pytest.mark.parametrize(
    ("method", "path", "host", "effect"),
    [
        ("POST", "/sync/v1/transcribe/live", "sync", "transcription"),
        ("GET", "/sync/v1/warm", "sync", "read"),
        ("POST", "/dictation/v1/transcribe/live", "dictation", "transcription"),
        ("GET", "/dictation/v1/warm", "dictation", "read"),
        ("POST", "/tts/v1/speech", "tts", "synthesis"),
        ("GET", "/tts-token/v1/token", "token", "credentials"),
    ],
)
def test_each_new_path_goes_to_its_own_host_with_its_effect(
    method: str, path: str, host: str, effect: str
) -> None:
    target = resolve(method, path)
    assert target is not None and (target.host, target.effect) == (host, effect)
    assert target.path == path.split("/", 2)[2].join(["/", ""])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/sync/v1/transcribe/live"),
        ("POST", "/tts/v1/ws"),
        ("GET", "/sync/v2/transcript"),
        ("POST", "/tts-token/v1/token"),
    ],
)
def test_other_paths_on_the_new_hosts_are_not_forwarded(method: str, path: str) -> None:
    assert resolve(method, path) is None


def test_the_billed_calls_are_metered_by_their_unit() -> None:
    assert metered_call("sync", "POST", "/v1/transcribe/live") == "clip"
    assert metered_call("dictation", "POST", "/v1/transcribe/live") == "clip"
    assert metered_call("tts", "POST", "/v1/speech") == "speech"
    assert metered_call("sync", "GET", "/v1/warm") is None
    assert metered_call("token", "GET", "/v1/token") is None


async def test_sync_and_dictation_clips_are_answered_and_metered(store: SqlStore) -> None:
    gateway = simulated_gateway(store)
    async with proxy_client(gateway) as client:
        sync = await client.post(SYNC, files=clip(3.0), headers={**AUTH, "x-aai-model": "universal-3-5-pro"})
        dictated = await client.post(
            DICTATION, files=clip(2.0, {"llm_instruction": "Make a list."}), headers=AUTH
        )
        warm = await client.get(f"{PROXY}/sync/v1/warm", headers=AUTH)
    assert sync.status_code == 200, sync.text
    assert (sync.json()["audio_duration_ms"], bool(sync.json()["text"])) == (3000, True)
    assert dictated.status_code == 200, dictated.text
    assert dictated.json()["audio_duration_ms"] == 2000 and dictated.json()["llm_response"]
    assert warm.status_code == 200
    assert store.usage_totals(0) == [UsageTotals(TEAM, clip_seconds=5.0, clips=2)]
    assert metric(gateway.metrics.exposition().decode(), "clip_seconds") == 5.0


async def test_speech_is_relayed_as_audio_and_its_characters_metered(store: SqlStore) -> None:
    simulator = simulator_app()
    gateway = simulated_gateway(store, simulator=simulator)
    body = {"text": TEXT, "container": "wav", "stream": False}
    async with proxy_client(gateway) as client:
        buffered = await client.post(SPEECH, json=body, headers=AUTH)
        streamed = await client.post(SPEECH, json={**body, "stream": True}, headers=AUTH)
    for answer in (buffered, streamed):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("audio/wav") and answer.content[:4] == b"RIFF"
        assert answer.headers["x-tts-billed-characters"] == str(len(TEXT))
    billed = simulator.state.simulator.account_at(0).usage.tts_characters
    assert billed == 2 * len(TEXT)
    assert store.usage_totals(0) == [UsageTotals(TEAM, tts_characters=billed)]
    assert metric(gateway.metrics.exposition().decode(), "tts_characters") == billed


async def test_the_tts_token_is_minted_through_the_proxy() -> None:
    gateway = simulated_gateway(None)
    async with proxy_client(gateway) as client:
        answer = await client.get(
            TTS_TOKEN, params={"product": "tts", "expires_in_seconds": 60}, headers=AUTH
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["token"]


@pytest.mark.parametrize(
    ("scopes", "method", "path", "allowed"),
    [
        ({"methods": ["read"]}, "POST", SYNC, False),
        ({"methods": ["read"]}, "POST", DICTATION, False),
        ({"methods": ["transcription"]}, "POST", SPEECH, False),
        ({"methods": ["synthesis"]}, "GET", TTS_TOKEN, False),
        ({"read_only": True}, "POST", SPEECH, False),
        ({"read_only": True}, "GET", f"{PROXY}/sync/v1/warm", True),
        ({"methods": ["synthesis"]}, "POST", SPEECH, True),
        ({"methods": ["credentials"]}, "GET", TTS_TOKEN, True),
    ],
)
async def test_a_token_without_the_calls_effect_is_refused(
    scopes: dict[str, Any], method: str, path: str, allowed: bool
) -> None:
    upstream = RecordingUpstream()
    gateway = proxy_gateway(upstream)
    async with proxy_client(gateway) as client:
        answer = await client.request(method, path, headers=default_headers(**scopes), content=b"{}")
    if allowed:
        assert answer.status_code == 200 and len(upstream.seen) == 1
    else:
        assert answer.status_code == 403 and upstream.seen == []


@pytest.mark.parametrize(
    ("method", "path", "host"),
    [
        ("POST", SYNC, "https://sync.assemblyai.com/v1/transcribe/live"),
        ("POST", DICTATION, "https://dictation.assemblyai.com/v1/transcribe/live"),
        ("POST", SPEECH, "https://tts.us.assemblyai.com/v1/speech"),
        ("GET", TTS_TOKEN, "https://token.assemblyai.com/v1/token"),
    ],
)
async def test_the_key_goes_upstream_raw_and_never_back(method: str, path: str, host: str) -> None:
    upstream = RecordingUpstream()
    upstream.status = 401
    upstream.body = json.dumps({"error": f"Invalid API key {CANARY_KEY}"}).encode()
    gateway = proxy_gateway(upstream)
    async with proxy_client(gateway) as client:
        answer = await client.request(method, path, headers=default_headers(), content=b"{}")
    (seen,) = upstream.seen
    assert str(seen.request.url) == host
    assert seen.request.headers["authorization"] == CANARY_KEY  # raw, as these hosts take it
    assert answer.status_code == 401
    assert CANARY_KEY not in answer.text and CANARY_KEY not in str(answer.headers)
    assert answer.json() == {"error": "Invalid API key ***"}  # the rest of upstream's answer as sent


@pytest.mark.parametrize("path", [SPEECH, TTS_TOKEN, f"{PROXY}/v2/transcript"])
async def test_an_error_in_a_coding_the_gateway_cannot_read_is_never_relayed(path: str) -> None:
    """brotli is not installed: an error body upstream compressed with it cannot be checked for the
    key, so its bytes never reach the caller; and the caller's br is not asked of upstream at all."""
    upstream = RecordingUpstream()
    upstream.status = 401
    upstream.headers = [(b"content-type", b"application/json"), (b"content-encoding", b"br")]
    upstream.body = f"not really brotli, but: Invalid API key {CANARY_KEY}".encode()
    gateway = proxy_gateway(upstream)
    headers = {**default_headers(), "accept-encoding": "br, zstd"}
    async with proxy_client(gateway) as client:
        answer = await client.request(
            "POST" if path != TTS_TOKEN else "GET", path, headers=headers, content=b"{}"
        )
    (seen,) = upstream.seen
    assert seen.request.headers["accept-encoding"] == "identity"
    assert answer.status_code == 401 and "content-encoding" not in answer.headers
    assert CANARY_KEY not in answer.text and "could not check" in answer.json()["error"]


# Where the simulator serves each (Sync under its host's prefix, TTS at the root like AssemblyAI's).
@pytest.mark.parametrize(("path", "simulated"), [(SYNC, "/sync/"), (SPEECH, "/v1/speech")])
async def test_upstream_429_passes_through_with_retry_after(path: str, simulated: str) -> None:
    simulator = simulator_app()
    simulator.state.simulator.queue_fault("429", path_prefix=simulated)
    gateway = simulated_gateway(None, simulator=simulator)
    async with proxy_client(gateway) as client:
        body: dict[str, Any] = {"files": clip(1.0)} if path == SYNC else {"json": {"text": TEXT}}
        answer = await client.post(path, headers=AUTH, **body)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "2"
    scrape = gateway.metrics.exposition().decode()
    assert metric(scrape, "clip_seconds") == 0 and metric(scrape, "tts_characters") == 0


async def test_a_clip_through_the_proxy_without_a_store_is_still_counted_in_metrics() -> None:
    gateway = simulated_gateway(None)
    async with proxy_client(gateway) as client:
        answer = await client.post(
            SYNC, files=clip(1.5), headers={**AUTH, "x-aai-model": "universal-3-5-pro"}
        )
    assert answer.status_code == 200
    assert metric(gateway.metrics.exposition().decode(), "clip_seconds") == 1.5


def test_httpx_keeps_the_multipart_parts_in_order() -> None:
    """The clip helper's premise: config first (the APIs reject audio that comes first)."""
    request = httpx.Request("POST", "http://x.test", files=clip(0.1))
    body = request.read()
    assert body.index(b'name="config"') < body.index(b'name="audio"')


async def test_the_tools_are_metered_by_the_same_rules(store: SqlStore) -> None:
    """One place counts usage whichever door saw the answer: the MCP tools' clips and speech too."""
    gateway = simulated_gateway(store)
    clip_b64 = base64.b64encode(wav_bytes(2.0)).decode()
    async with Client(build_server(gateway)) as client:
        clipped = await client.call_tool("transcribe_clip", {"data_base64": clip_b64})
        spoken = await client.call_tool("text_to_speech", {"text": TEXT})
    assert not clipped.is_error and not spoken.is_error
    assert store.usage_totals(0) == [
        UsageTotals(
            "default",
            clip_seconds=2.0,
            clips=1,
            tts_characters=spoken.structured_content["billed_characters"],
        )
    ]


async def test_a_pooled_key_echoed_in_an_error_is_not_returned(
    monkeypatch: pytest.MonkeyPatch, store: SqlStore
) -> None:
    monkeypatch.setenv("POOL_KEY_A", KEY_A)
    monkeypatch.setenv("POOL_KEY_B", KEY_B)
    upstream = RecordingUpstream()
    upstream.status = 400  # not a refusal the pool fails over on: relayed to the caller
    upstream.body = json.dumps({"error": f"bad request for {KEY_A} / {KEY_B}"}).encode()
    gateway = proxy_gateway(upstream, accounts=["team=env:POOL_KEY_A", "team=env:POOL_KEY_B"])
    gateway.use_store(store)
    async with proxy_client(gateway) as client:
        answer = await client.post(SPEECH, json={"text": TEXT}, headers=AUTH)
    (seen,) = upstream.seen
    sent_key = seen.request.headers["authorization"]
    assert sent_key in (KEY_A, KEY_B)
    assert answer.status_code == 400 and sent_key not in answer.text and "***" in answer.text
