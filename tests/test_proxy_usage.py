"""Usage counted from upstream's answers: what the simulator billed (audio of completed transcripts,
LLM usage) is what the store and /metrics show, each transcript once whichever door reads it; a large
transcript answer is relayed intact, in constant memory, while its usage is counted."""

from __future__ import annotations

import gzip
import hashlib
import json
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from mcp.client import Client
from starlette.types import Message

from aai_mcp.access.principal import Authenticator
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.proxy.front_door import ProxyApp
from aai_mcp.state.store import UsageTotals
from aai_mcp.state.store_sql import SqlStore
from tests.support.proxy_harness import PROXY, RecordingUpstream, proxy_client, proxy_gateway
from tests.support.quota_rig import (
    AUTH,
    SIMULATOR_KEY,
    TEAM,
    TEAM_KEY_ENV,
    ask,
    billing,
    read,
    simulated_gateway,
    simulator_app,
    transcribe,
    upload,
)

pytestmark = pytest.mark.anyio
QUESTION = {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "What was said?"}]}


@pytest.fixture(autouse=True)
def team_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(TEAM_KEY_ENV, SIMULATOR_KEY)
    yield


def metric(scrape: str, name: str, team: str = TEAM) -> float:
    prefix = f'aai_mcp_team_{name}_total{{team="{team}"}} '
    line = next((line for line in scrape.splitlines() if line.startswith(prefix)), None)
    return 0.0 if line is None else float(line.removeprefix(prefix))


async def test_usage_matches_what_the_simulator_billed(store: SqlStore) -> None:
    simulator = simulator_app()
    gateway = simulated_gateway(store, simulator=simulator)
    async with proxy_client(gateway) as client:
        transcripts = [await transcribe(client, seconds) for seconds in (2.0, 3.5)]
        for transcript in transcripts:  # read again: counted once
            await read(client, transcript["id"])
        answers = [(await ask(client, question)).json() for question in ("Who spoke?", "Summarize it.")]
    billed = billing(simulator)
    assert (billed.transcripts_completed, billed.audio_seconds, billed.llm_requests) == (2, 2 + 4, 2)
    assert billed.llm_input_tokens == sum(a["usage"]["input_tokens"] for a in answers)
    total = billed.llm_input_tokens + billed.llm_output_tokens
    assert store.usage_totals(0) == [
        UsageTotals(TEAM, billed.audio_seconds, 2, total, billed.llm_input_tokens, billed.llm_output_tokens)
    ]
    scrape = gateway.metrics.exposition().decode()
    assert metric(scrape, "audio_seconds") == billed.audio_seconds
    assert metric(scrape, "transcripts") == billed.transcripts_completed
    assert metric(scrape, "llm_prompt_tokens") == billed.llm_input_tokens
    assert metric(scrape, "llm_completion_tokens") == billed.llm_output_tokens


async def test_a_transcript_read_by_a_tool_and_the_proxy_is_counted_once(store: SqlStore) -> None:
    gateway = simulated_gateway(store)
    async with proxy_client(gateway) as client:
        audio_url = await upload(client, 2.0)
        async with Client(build_server(gateway)) as mcp:
            result = await mcp.call_tool("transcribe", {"audio_url": audio_url, "timeout_seconds": 30})
        assert not result.is_error, result
        listed = (await client.get(f"{PROXY}/v2/transcript", headers=AUTH)).json()["transcripts"]
        await read(client, listed[0]["id"])
    # The MCP caller here is the local principal (account default); the proxy's read adds nothing.
    assert store.usage_totals(0) == [UsageTotals("default", 2.0, 1)]
    assert store.open_jobs("default", 0) == 0


async def test_a_tool_asking_the_llm_gateway_counts_its_tokens(store: SqlStore) -> None:
    gateway = simulated_gateway(store)
    async with proxy_client(gateway) as client:
        transcript = await transcribe(client, 1.0)
    async with Client(build_server(gateway)) as mcp:
        result = await mcp.call_tool(
            "ask_transcript", {"transcript_ids": [transcript["id"]], "prompt": "What was said?"}
        )
    assert not result.is_error, result
    (totals,) = [t for t in store.usage_totals(0) if t.account == "default"]
    assert totals.llm_tokens > 0 and totals.prompt_tokens + totals.completion_tokens == totals.llm_tokens


def big_transcript(words: int) -> bytes:
    document = {
        "id": "tr_big",
        "auto_highlights_result": {"status": "success", "results": []},
        "words": [{"text": f"w{i}", "start": i, "end": i + 1, "confidence": 0.5} for i in range(words)],
        "status": "completed",
        "audio_duration": 5400,
    }
    return json.dumps(document).encode()


class BigAnswer(httpx.AsyncBaseTransport):
    """Upstream answering a transcript read with `body`, in 64 KiB pieces made as they are sent."""

    def __init__(self, body: bytes, encoding: str | None) -> None:
        self.body = body
        self.encoding = encoding

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if self.encoding:
            headers["content-encoding"] = self.encoding
        return httpx.Response(200, headers=headers, stream=_Pieces(self.body))


class _Pieces(httpx.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), 64 * 1024):
            yield self.body[start : start + 64 * 1024]


@pytest.mark.parametrize("encoding", [None, "gzip"])
async def test_a_large_transcript_is_relayed_intact_while_its_usage_is_counted(
    store: SqlStore, encoding: str | None
) -> None:
    plain = big_transcript(120_000)  # ~7 MB
    sent = gzip.compress(plain, 1) if encoding else plain
    gateway = proxy_gateway(BigAnswer(sent, encoding), accounts=[f"{TEAM}=env:{TEAM_KEY_ENV}"])
    gateway.use_store(store)
    # The proxy app itself, driven here: httpx's ASGITransport would collect the whole answer first.
    app = ProxyApp(gateway, Authenticator(gateway.settings))
    digest, received, status = hashlib.sha256(), [0], [0]

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        else:
            digest.update(message.get("body", b""))
            received[0] += len(message.get("body", b""))

    path = f"{PROXY}/v2/transcript/tr_big"
    headers = [(b"authorization", AUTH["authorization"].encode()), (b"accept-encoding", b"gzip")]
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b""}
    tracemalloc.start()
    try:
        await app({**scope, "headers": headers}, receive, send)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status[0], received[0]) == (200, len(sent))
    assert digest.hexdigest() == hashlib.sha256(sent).hexdigest()
    # Never the whole answer at once: the peak stays far below its size (the answer itself is made
    # by the stand-in from `sent`, which was allocated before tracing started).
    assert peak < 2 * 1024 * 1024, peak
    assert store.usage_totals(0) == [UsageTotals(TEAM, 5400.0, 1)]


class StreamedLlm(httpx.AsyncBaseTransport):
    """The LLM Gateway answering `"stream": true` with server-sent events, usage in the last chunk."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        events = [
            b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n',
            b'data: {"choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n',
            b'data: {"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":2,"total_tokens":32}}\n\n',
            b"data: [DONE]\n\n",
        ]
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Events(events))


class _Events(httpx.AsyncByteStream):
    def __init__(self, events: list[bytes]) -> None:
        self.events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self.events:
            yield event


async def test_a_streamed_llm_answer_is_relayed_and_its_usage_counted(store: SqlStore) -> None:
    gateway = proxy_gateway(
        StreamedLlm(), accounts=[f"{TEAM}=env:{TEAM_KEY_ENV}"], team_quotas="team:llm_tokens=32"
    )
    gateway.use_store(store)
    body = {"model": "gpt-5", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    async with proxy_client(gateway) as client:
        answer = await client.post(f"{PROXY}/llm-gateway/v1/chat/completions", json=body, headers=AUTH)
        again = await client.post(f"{PROXY}/llm-gateway/v1/chat/completions", json=body, headers=AUTH)
    assert answer.status_code == 200 and answer.text.endswith("data: [DONE]\n\n")
    assert store.usage_totals(0) == [UsageTotals(TEAM, llm_tokens=32, prompt_tokens=30, completion_tokens=2)]
    assert again.status_code == 429  # streaming does not slip past the monthly tokens


async def test_a_passthrough_callers_own_key_counts_as_no_teams_usage(store: SqlStore) -> None:
    gateway = simulated_gateway(store, auth=["tokens", "passthrough-key"])
    async with proxy_client(gateway) as client:
        own = {"x-assemblyai-key": SIMULATOR_KEY}
        answer = await client.post(f"{PROXY}/llm-gateway/v1/chat/completions", json=QUESTION, headers=own)
        assert answer.status_code == 200, answer.text
        assert (await ask(client)).status_code == 200  # a team's token: counted
    (team,) = store.usage_totals(0)
    assert team.account == TEAM and team.llm_tokens == answer.json()["usage"]["total_tokens"]


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        (b"gzip, deflate, br, zstd", b"gzip, deflate"),
        (b"br;q=1.0, gzip;q=0.5", b"gzip;q=0.5"),
        (b"br", b"identity"),
    ],
)
async def test_every_call_asks_upstream_only_for_encodings_the_gateway_can_read(
    store: SqlStore, asked: bytes, sent: bytes
) -> None:
    upstream = RecordingUpstream()
    gateway = proxy_gateway(upstream, accounts=[f"{TEAM}=env:{TEAM_KEY_ENV}"])
    gateway.use_store(store)
    headers = {**AUTH, "accept-encoding": asked.decode()}
    async with proxy_client(gateway) as client:
        await client.get(f"{PROXY}/v2/transcript/tr_1", headers=headers)
        # Not metered, narrowed too: an error answer is read for the key it may echo.
        await client.get(f"{PROXY}/v2/transcript", headers=headers)
    assert [seen.request.headers["accept-encoding"].encode() for seen in upstream.seen] == [sent, sent]
