"""The team proxy on a pool of two keys (two AssemblyAI accounts of the built-in simulator, in
memory): new work moves off a rate-limited or rejected key, follow-ups never leave the key that made
their resource, and when nothing is left the caller gets 503 with Retry-After. The pool's state is in
the store, on both engines."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx
import pytest
from starlette.types import Message

from aai_mcp.access import Scopes, mint
from aai_mcp.access.principal import Authenticator
from aai_mcp.gateway import Gateway
from aai_mcp.proxy.front_door import ProxyApp
from aai_mcp.state.store_sql import SqlStore
from tests.support import wav_bytes
from tests.support.proxy_harness import PROXY, SECRET, proxy_client, proxy_gateway
from tests.support.simulated_accounts import SPEECH_MODELS, SimulatedAccounts
from tests.support.stores import StoreConfig
from tests.support.two_accounts import KEY_A, KEY_B

pytestmark = pytest.mark.anyio
TOKEN = mint(SECRET.encode(), name="pool", scopes=Scopes(proxy=True), expires_at=None, account="team").token
AUTH = {"authorization": TOKEN}


@pytest.fixture
def upstream() -> SimulatedAccounts:
    return SimulatedAccounts.start()


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POOL_KEY_A", KEY_A)
    monkeypatch.setenv("POOL_KEY_B", KEY_B)
    yield


def pool_gateway(upstream: SimulatedAccounts, store: SqlStore) -> Gateway:
    gateway = proxy_gateway(upstream.transport(), accounts=["team=env:POOL_KEY_A", "team=env:POOL_KEY_B"])
    gateway.use_store(store)
    return gateway


async def create(client: httpx.AsyncClient, audio_url: str = "https://example.com/a.mp3") -> httpx.Response:
    body = {"audio_url": audio_url, "speech_models": SPEECH_MODELS}
    return await client.post(f"{PROXY}/v2/transcript", json=body, headers=AUTH)


async def test_a_429_moves_new_work_while_follow_ups_stay_on_their_key(
    pooled: None, upstream: SimulatedAccounts, store: SqlStore
) -> None:
    gateway = pool_gateway(upstream, store)
    async with proxy_client(gateway) as client:
        first = (await create(client)).json()["id"]
        assert upstream.keys_called() == [KEY_A]
        upstream.simulator.limit_key(KEY_A, 30)
        answer = await create(client)
        assert answer.status_code == 200  # A's 429 was not processed: sent again with B
        second = answer.json()["id"]
        assert upstream.keys_called()[1:] == [KEY_A, KEY_B]
        follow_up = await client.get(f"{PROXY}/v2/transcript/{first}", headers=AUTH)
        assert follow_up.status_code == 503  # never B, which would not know the transcript
        assert follow_up.json()["code"] == "no_usable_key"
        assert 29 <= int(follow_up.headers["retry-after"]) <= 30
        assert len(upstream.simulator.requests) == 3  # refused here, without spending a call on A
        assert (await client.get(f"{PROXY}/v2/transcript/{second}", headers=AUTH)).status_code == 200
        assert upstream.keys_called()[-1] == KEY_B
    scrape = gateway.metrics.exposition().decode()
    assert 'aai_mcp_upstream_key_events_total{event="rate_limited",key="team/POOL_KEY_A"} 1.0' in scrape
    assert KEY_A not in scrape and KEY_B not in scrape


async def test_both_keys_exhausted_gives_503_with_the_soonest_retry_after(
    pooled: None, upstream: SimulatedAccounts, store: SqlStore
) -> None:
    upstream.simulator.limit_key(KEY_A, 40)
    upstream.simulator.limit_key(KEY_B, 12)
    async with proxy_client(pool_gateway(upstream, store)) as client:
        answer = await create(client)
        assert answer.status_code == 503
        assert answer.json()["code"] == "no_usable_key"
        assert 11 <= int(answer.headers["retry-after"]) <= 12
        assert sorted(upstream.keys_called()) == sorted([KEY_A, KEY_B])
        again = await create(client)  # both cooling: answered without calling upstream
        assert again.status_code == 503 and len(upstream.simulator.requests) == 2


async def test_a_rejected_key_is_out_until_an_operator_enables_it(
    pooled: None, upstream: SimulatedAccounts, store: SqlStore
) -> None:
    upstream.simulator.reject_key(KEY_A)
    gateway = pool_gateway(upstream, store)
    assert gateway.key_pool is not None
    # Enabled in the store only (as by `keys enable` without Redis): seen at the next refresh, now.
    gateway.key_pool.states.refresh_seconds = 0
    async with proxy_client(gateway) as client:
        assert (await create(client)).status_code == 200
        assert upstream.keys_called() == [KEY_A, KEY_B]
        upstream.simulator.clear_key(KEY_A)  # fixed upstream, but nobody told the pool yet
        assert (await create(client)).status_code == 200
        assert upstream.keys_called()[2:] == [KEY_B]
        assert store.key_states()["team/POOL_KEY_A"].disabled_reason == "upstream answered 401"
        assert store.enable_key("team/POOL_KEY_A")
        assert (await create(client)).status_code == 200
        assert upstream.keys_called()[3:] == [KEY_A]


async def test_an_upload_is_never_replayed_and_its_transcript_stays_on_its_key(
    pooled: None, upstream: SimulatedAccounts, store: SqlStore
) -> None:
    gateway = pool_gateway(upstream, store)
    async with proxy_client(gateway) as client:
        upload = await client.post(f"{PROXY}/v2/upload", content=wav_bytes(), headers=AUTH)
        upload_url = upload.json()["upload_url"]
        assert upstream.keys_called() == [KEY_A]
        assert gateway.key_pool is not None
        # A busier than B: new work would go to B; the upload's transcript must not.
        with gateway.key_pool.using(gateway.key_pool.pools["team"][0]):
            answer = await create(client, upload_url)
        assert answer.status_code == 200 and upstream.keys_called()[1] == KEY_A
        assert upstream.owner(answer.json()["id"]) == KEY_A
        upstream.simulator.limit_key(KEY_A, 5)
        # Bounded: sending a spent stream again would wait for the caller's body forever.
        with anyio.fail_after(60):
            refused = await client.post(f"{PROXY}/v2/upload", content=wav_bytes(), headers=AUTH)
        assert refused.status_code == 429  # the streamed body is gone: relayed, not sent again
        assert upstream.keys_called()[2:] == [KEY_A]


async def test_affinity_survives_a_restart_and_reaches_a_second_instance(
    pooled: None, upstream: SimulatedAccounts, store_config: StoreConfig
) -> None:
    first_store = store_config.open(auto_upgrade=True)
    try:
        upstream.simulator.limit_key(KEY_A, 1)  # so the transcript is made with B
        async with proxy_client(pool_gateway(upstream, first_store)) as client:
            transcript = (await create(client)).json()["id"]
        assert upstream.owner(transcript) == KEY_B
        upstream.simulator.clear_key(KEY_A)
    finally:
        first_store.close()
    second_store = store_config.open()  # a restart, or another instance on the same store
    try:
        second_store.enable_key("team/POOL_KEY_A")  # A is free again: affinity alone keeps B
        async with proxy_client(pool_gateway(upstream, second_store)) as client:
            answer = await client.get(f"{PROXY}/v2/transcript/{transcript}", headers=AUTH)
        assert answer.status_code == 200 and upstream.keys_called()[-1] == KEY_B
    finally:
        second_store.close()


async def test_a_list_answer_pins_the_transcripts_it_names(
    pooled: None, upstream: SimulatedAccounts, store: SqlStore
) -> None:
    elsewhere = await upstream.create_directly(KEY_B)  # before the pool knew, e.g. by a direct SDK call
    upstream.simulator.limit_key(KEY_A, 1)  # so the list goes out with B
    async with proxy_client(pool_gateway(upstream, store)) as client:
        listed = await client.get(f"{PROXY}/v2/transcript", headers=AUTH)
        assert [item["id"] for item in listed.json()["transcripts"]] == [elsewhere]
        upstream.simulator.clear_key(KEY_A)
        store.enable_key("team/POOL_KEY_A")  # A is free and preferred by tie-break: only affinity picks B
        answer = await client.get(f"{PROXY}/v2/transcript/{elsewhere}", headers=AUTH)
    assert answer.status_code == 200 and upstream.keys_called()[-1] == KEY_B


def test_an_account_with_one_key_is_not_pooled(
    pooled: None, upstream: SimulatedAccounts, store: SqlStore
) -> None:
    gateway = proxy_gateway(upstream.transport(), accounts=["team=env:POOL_KEY_A"])
    gateway.use_store(store)
    assert gateway.key_pool is None
    gateway = pool_gateway(upstream, store)
    assert gateway.key_pool is not None and gateway.key_pool.key_names() == [
        "team/POOL_KEY_A",
        "team/POOL_KEY_B",
    ]


async def test_a_caller_leaving_mid_body_sends_nothing_upstream(
    pooled: None, upstream: SimulatedAccounts, store: SqlStore
) -> None:
    gateway = pool_gateway(upstream, store)
    app = ProxyApp(gateway, Authenticator(gateway.settings))
    first: Message = {"type": "http.request", "body": b'{"audio', "more_body": True}
    messages = iter([first, {"type": "http.disconnect"}])
    sent: list[Message] = []

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": f"{PROXY}/v2/transcript",
        "raw_path": f"{PROXY}/v2/transcript".encode(),
        "query_string": b"",
        "headers": [(b"authorization", TOKEN.encode()), (b"content-length", b"40")],
    }
    await app(scope, receive, send)
    assert upstream.simulator.requests == [] and sent == []
