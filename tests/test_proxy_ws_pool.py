"""The streaming proxy on a pool of two keys, against the simulator's two accounts on loopback: a key
upstream refuses (429 to the upgrade, or AssemblyAI's 1008 close before Begin for a revoked key) is
marked in the store as the REST proxy marks it and the session opens, and is billed, on the other
account; none left gives 503 with Retry-After."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from aai_mcp.access import Scopes, mint
from aai_mcp.simulator import Simulator
from aai_mcp.state.store_sql import SqlStore
from tests.support.proxy_harness import SECRET
from tests.support.servers import wait_until
from tests.support.stream_proxy import StreamingSetup, streaming_proxy
from tests.support.streaming_ws import pcm
from tests.support.two_accounts import KEY_A, KEY_B

pytestmark = pytest.mark.slow
TOKEN = mint(SECRET.encode(), name="pool", scopes=Scopes(proxy=True), expires_at=None, account="team").token
# Same weight: the first configured (A) is tried first.
ACCOUNTS = ["team=env:STREAM_KEY_A", "team=env:STREAM_KEY_B"]
DEADLINE = 30.0


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STREAM_KEY_A", KEY_A)
    monkeypatch.setenv("STREAM_KEY_B", KEY_B)
    yield


@pytest.fixture
def setup(keys: None, store: SqlStore) -> Iterator[StreamingSetup]:
    with streaming_proxy(store=store, simulator_keys=(KEY_A, KEY_B), accounts=ACCOUNTS) as started:
        yield started


def one_word_session(setup: StreamingSetup) -> str:
    with connect(setup.url(), additional_headers={"Authorization": TOKEN}, open_timeout=DEADLINE) as ws:
        assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        ws.send(pcm(300))
        transcript: str = json.loads(ws.recv(timeout=DEADLINE))["transcript"]
    return transcript


def billed_keys(simulator: Simulator) -> list[str]:
    wait_until(lambda: simulator.streams, DEADLINE, "the session's record")
    return [simulator.config.keys[record.account] for record in simulator.streams]


def test_a_revoked_key_is_disabled_and_the_session_opens_on_the_other(
    setup: StreamingSetup, store: SqlStore
) -> None:
    setup.simulator.accounts[KEY_A].reject()  # AssemblyAI accepts the upgrade, then closes 1008
    assert one_word_session(setup) == "thank"
    assert billed_keys(setup.simulator) == [KEY_B]
    assert store.key_states()["team/STREAM_KEY_A"].disabled_reason == "upstream answered 401"
    scrape = setup.gateway.metrics.exposition().decode()
    assert 'aai_mcp_upstream_key_events_total{event="failover",key="team/STREAM_KEY_A"} 1.0' in scrape
    assert 'aai_mcp_upstream_key_events_total{event="refused",key="team/STREAM_KEY_A"} 1.0' in scrape
    assert KEY_A not in scrape and KEY_B not in scrape


def test_a_rate_limited_key_cools_down_and_the_session_opens_on_the_other(
    setup: StreamingSetup, store: SqlStore
) -> None:
    setup.simulator.accounts[KEY_A].limit(setup.simulator.now(), 60)  # upgrades answered 429
    assert one_word_session(setup) == "thank"
    assert billed_keys(setup.simulator) == [KEY_B]
    cooling = store.key_states()["team/STREAM_KEY_A"].cooling_until
    assert cooling is not None and cooling > setup.simulator.now() + 50  # upstream's Retry-After
    assert one_word_session(setup) == "thank"  # the next session does not try A again
    assert setup.simulator.accounts[KEY_A].refused[429] == 1


def test_both_keys_rate_limited_gives_503_with_the_soonest_retry_after(setup: StreamingSetup) -> None:
    now = setup.simulator.now()
    setup.simulator.accounts[KEY_A].limit(now, 40)
    setup.simulator.accounts[KEY_B].limit(now, 12)
    with pytest.raises(InvalidStatus) as refused:
        one_word_session(setup)
    response = refused.value.response
    assert response.status_code == 503
    assert json.loads(response.body or b"{}")["code"] == "no_usable_key"
    assert 11 <= int(response.headers["Retry-After"]) <= 12
    assert setup.simulator.streams == []
