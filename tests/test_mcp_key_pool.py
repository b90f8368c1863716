"""The MCP tools on an account's key pool, the same machinery as the team proxy: new work moves off a
rate-limited key, follow-ups (reads, waits, a transcript of an upload) stay on the key that made their
resource, an upload is never sent twice, and when no key is left the tool answers `no_usable_key` with
the soonest retry. A transcript the proxy made is followed up by the tools on its key (one store)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client

from aai_mcp.access import Scopes, mint
from aai_mcp.gateway import Gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.transports.http import build_http_app
from aai_mcp.upstream.key_states import CHANNEL
from tests.support import error_details, wav_bytes
from tests.support.proxy_harness import PROXY, SECRET, proxy_client, proxy_gateway
from tests.support.stores import StoreConfig
from tests.support.two_accounts import KEY_A, KEY_B, TwoAccounts
from tests.test_tools_upstream import completed

pytestmark = pytest.mark.anyio
POOLED = ["default=env:POOL_KEY_A", "default=env:POOL_KEY_B"]
AUDIO = "https://example.com/a.mp3"


class Finishing(TwoAccounts):
    """Each transcript is queued at its first read and completed from the second on; list items carry
    a status, as upstream's do (the tool's output schema needs it)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[str, int] = {}

    def _answer(self, key: str, request: httpx.Request) -> httpx.Response:
        response = super()._answer(key, request)
        path = request.url.path
        if request.method == "GET" and path.startswith("/v2/transcript/") and response.status_code == 200:
            transcript_id = path.split("/")[3]
            self.reads[transcript_id] = self.reads.get(transcript_id, 0) + 1
            if self.reads[transcript_id] > 1:
                return httpx.Response(200, json={**completed(), "id": transcript_id})
        if request.method == "GET" and path == "/v2/transcript" and response.status_code == 200:
            listed = response.json()
            listed["transcripts"] = [{**item, "status": "queued"} for item in listed["transcripts"]]
            return httpx.Response(200, json=listed)
        return response


@pytest.fixture
def upstream() -> Finishing:
    return Finishing()


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POOL_KEY_A", KEY_A)
    monkeypatch.setenv("POOL_KEY_B", KEY_B)
    yield


def pool_gateway(upstream: TwoAccounts, store: SqlStore) -> Gateway:
    """No server key of its own: the in-process client's account (`default`) is the two-key pool."""
    gateway = proxy_gateway(
        upstream.transport(),
        api_key=None,
        accounts=POOLED,
        wait_poll_initial_seconds=0.01,
        wait_poll_max_seconds=0.01,
    )
    gateway.use_store(store)
    assert gateway.key_pool is not None and gateway.key_pool.serves("default")
    return gateway


@asynccontextmanager
async def mcp_client(gateway: Gateway) -> AsyncIterator[Client]:
    try:
        async with Client(build_server(gateway)) as client:
            yield client
    finally:
        await gateway.aclose()


async def transcribe(client: Client, **args: Any) -> Any:
    return await client.call_tool("transcribe", {"audio_url": AUDIO, "wait": False, **args})


async def test_a_429_moves_new_transcribe_calls_while_follow_ups_stay_on_their_key(
    pooled: None, upstream: Finishing, store: SqlStore
) -> None:
    gateway = pool_gateway(upstream, store)
    async with mcp_client(gateway) as client:
        first = (await transcribe(client)).structured_content["id"]
        assert upstream.keys_called() == [KEY_A] and upstream.owner[first] == KEY_A
        upstream.limited[KEY_A] = 30
        made = await transcribe(client)
        assert not made.is_error  # A's 429 was not processed: sent again with B
        second = made.structured_content["id"]
        assert upstream.keys_called()[1:] == [KEY_A, KEY_B] and upstream.owner[second] == KEY_B
        follow_up = await client.call_tool("get_transcript", {"transcript_id": first})
        error = error_details(follow_up)  # never B, which would not know the transcript
        assert error["kind"] == "no_usable_key" and error["retryable"] is True
        assert 29 <= error["retry_after_seconds"] <= 30 and "default/POOL_KEY_A" in error["message"]
        assert len(upstream.calls) == 3  # refused here, without spending a call on A
        assert not (await client.call_tool("get_transcript", {"transcript_id": second})).is_error
        assert upstream.keys_called()[-1] == KEY_B
    scrape = gateway.metrics.exposition().decode()
    assert 'aai_mcp_upstream_key_events_total{event="rate_limited",key="default/POOL_KEY_A"} 1.0' in scrape
    assert 'aai_mcp_upstream_key_events_total{event="failover",key="default/POOL_KEY_A"} 1.0' in scrape
    assert KEY_A not in scrape and KEY_B not in scrape


async def test_waiting_polls_with_the_key_that_made_the_transcript(
    pooled: None, upstream: Finishing, store: SqlStore
) -> None:
    gateway = pool_gateway(upstream, store)
    assert gateway.key_pool is not None
    async with mcp_client(gateway) as client:
        upstream.limited[KEY_A] = 1
        transcript = (await transcribe(client)).structured_content["id"]
        assert upstream.owner[transcript] == KEY_B
        del upstream.limited[KEY_A]
        store.enable_key("default/POOL_KEY_A")
        gateway.key_pool.states.refresh_seconds = 0  # A usable again here: new work would go to A
        waited = await client.call_tool("wait_for_transcript", {"transcript_id": transcript})
        assert not waited.is_error and waited.structured_content["status"] == "completed"
        polls = [call for call in upstream.calls if call.path == f"/v2/transcript/{transcript}"]
        assert len(polls) == 2 and {call.key for call in polls} == {KEY_B}
        assert (await transcribe(client)).structured_content["id"]
        assert upstream.keys_called()[-1] == KEY_A


async def test_both_keys_exhausted_is_a_no_usable_key_tool_error(
    pooled: None, upstream: Finishing, store: SqlStore
) -> None:
    upstream.limited.update({KEY_A: 40, KEY_B: 12})
    async with mcp_client(pool_gateway(upstream, store)) as client:
        result = await transcribe(client)
        error = error_details(result)
        assert error["kind"] == "no_usable_key" and 11 <= error["retry_after_seconds"] <= 12
        assert sorted(upstream.keys_called()) == sorted([KEY_A, KEY_B])
        again = error_details(await transcribe(client))  # both cooling: no call upstream
        assert again["kind"] == "no_usable_key" and len(upstream.calls) == 2
        text = str(result.content) + str(again)
        assert KEY_A not in text and KEY_B not in text


async def test_a_disabled_key_is_out_of_the_tools_until_enabled(
    pooled: None, upstream: Finishing, store: SqlStore
) -> None:
    upstream.rejected.update({KEY_A, KEY_B})
    async with mcp_client(pool_gateway(upstream, store)) as client:
        error = error_details(await transcribe(client))
        assert error["kind"] == "no_usable_key" and "retry_after_seconds" not in error
        assert "aai-mcp keys enable" in error["message"]
    assert store.key_states()["default/POOL_KEY_B"].disabled_reason == "upstream answered 401"


async def test_an_upload_is_never_sent_twice_and_its_transcript_stays_on_its_key(
    pooled: None, upstream: Finishing, store: SqlStore
) -> None:
    gateway = pool_gateway(upstream, store)
    assert gateway.key_pool is not None
    audio = {"data_base64": base64.b64encode(wav_bytes()).decode()}
    async with mcp_client(gateway) as client:
        # A busier than B all along: new work goes to B, the upload's transcript must not.
        uploaded = await client.call_tool("upload_file", audio)
        upload_url = uploaded.structured_content["upload_url"]
        assert upstream.keys_called() == [KEY_A]
        with gateway.key_pool.using(gateway.key_pool.pools["default"][0]):
            made = await client.call_tool("create_transcript", {"audio_url": upload_url})
            assert not made.is_error, made.content
            assert upstream.keys_called()[1] == KEY_A
            both = await client.call_tool("transcribe", {**audio, "wait": False})  # upload + create
        assert upstream.keys_called()[2:] == [KEY_B, KEY_B]
        assert upstream.owner[both.structured_content["id"]] == KEY_B
        upstream.limited[KEY_A] = 5
        refused = await client.call_tool("upload_file", audio)
        assert error_details(refused)["kind"] == "rate_limited"  # the stream is spent: not sent again
        assert upstream.keys_called()[4:] == [KEY_A]


async def test_a_transcript_made_through_the_proxy_is_followed_up_by_the_tools_on_its_key(
    pooled: None, upstream: Finishing, store_config: StoreConfig
) -> None:
    token = mint(SECRET.encode(), name="p", scopes=Scopes(proxy=True), expires_at=None, account="default")
    proxy_store, tools_store = store_config.open(auto_upgrade=True), store_config.open()
    try:
        upstream.limited[KEY_A] = 1  # so the proxy makes it with B
        proxy = pool_gateway(upstream, proxy_store)
        async with proxy_client(proxy) as http:
            body = {"audio_url": AUDIO}
            made = await http.post(
                f"{PROXY}/v2/transcript", json=body, headers={"authorization": token.token}
            )
        transcript = made.json()["id"]
        assert upstream.owner[transcript] == KEY_B
        del upstream.limited[KEY_A]
        proxy_store.enable_key("default/POOL_KEY_A")  # A is free and preferred: only affinity picks B
        # Another instance on the same store, which never saw the transcript.
        async with mcp_client(pool_gateway(upstream, tools_store)) as client:
            answer = await client.call_tool("get_transcript", {"transcript_id": transcript})
            assert not answer.is_error and upstream.keys_called()[-1] == KEY_B
            upstream.limited[KEY_A] = 1  # and the other way round: the tools make one with B
            by_tools = (await transcribe(client)).structured_content["id"]
            del upstream.limited[KEY_A]
        assert upstream.owner[by_tools] == KEY_B
        async with proxy_client(proxy) as http:
            read = await http.get(f"{PROXY}/v2/transcript/{by_tools}", headers={"authorization": token.token})
        assert read.status_code == 200 and upstream.keys_called()[-1] == KEY_B
        await proxy.aclose()
    finally:
        proxy_store.close()
        tools_store.close()


async def test_a_list_answer_pins_the_transcripts_it_names(
    pooled: None, upstream: Finishing, store: SqlStore
) -> None:
    upstream.owner["tr_made_elsewhere"] = KEY_B  # made before the pool knew, e.g. by a direct SDK call
    upstream.limited[KEY_A] = 1  # so the list goes out with B
    gateway = pool_gateway(upstream, store)
    assert gateway.key_pool is not None
    async with mcp_client(gateway) as client:
        listed = await client.call_tool("list_transcripts", {})
        assert not listed.is_error and "tr_made_elsewhere" in str(listed.structured_content)
        del upstream.limited[KEY_A]
        store.enable_key("default/POOL_KEY_A")
        gateway.key_pool.states.refresh_seconds = 0  # A free and preferred: only affinity picks B
        answer = await client.call_tool("get_transcript", {"transcript_id": "tr_made_elsewhere"})
    assert not answer.is_error and upstream.keys_called()[-1] == KEY_B
    assert store.resource_key("tr_made_elsewhere") == "default/POOL_KEY_B"


async def test_the_http_apps_lifespan_hears_the_key_pools_news(
    pooled: None, upstream: Finishing, store: SqlStore
) -> None:
    gateway = pool_gateway(upstream, store)
    pool = gateway.key_pool
    assert pool is not None
    app = build_http_app(gateway)
    async with app.router.lifespan_context(app):
        # What another instance publishes when upstream refuses one of the keys.
        news = {"key": "default/POOL_KEY_A", "state": "disabled", "reason": "upstream answered 403"}
        await gateway.shared.publish(CHANNEL, news)
        with anyio.fail_after(30):
            while pool.states.known("default/POOL_KEY_A") is None:
                await pool.states.heard()
