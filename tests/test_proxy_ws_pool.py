"""The streaming proxy on a pool of two keys, against the simulator on loopback: a key upstream
refuses (429 to the upgrade, or AssemblyAI's 1008 close before Begin) is marked in the store as
the REST proxy marks it and the session opens with the other key; none left gives 503."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from aai_mcp.access import Scopes, mint
from aai_mcp.state.store_sql import SqlStore
from tests.support.proxy_harness import SECRET
from tests.support.servers import SIM_KEY
from tests.support.stream_proxy import streaming_proxy
from tests.support.streaming_ws import pcm

pytestmark = pytest.mark.slow
TOKEN = mint(SECRET.encode(), name="pool", scopes=Scopes(proxy=True), expires_at=None, account="team").token
WRONG_KEY = "not-the-simulators-key-0123456789"
ACCOUNTS = ["team=env:STREAM_KEY_A", "team=env:STREAM_KEY_B"]
DEADLINE = 30.0


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A is tried first (same weight: the first configured); B is the one the simulator accepts."""
    monkeypatch.setenv("STREAM_KEY_A", WRONG_KEY)
    monkeypatch.setenv("STREAM_KEY_B", SIM_KEY)
    yield


def one_word_session(url: str) -> str:
    with connect(url, additional_headers={"Authorization": TOKEN}, open_timeout=DEADLINE) as ws:
        assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        ws.send(pcm(300))
        transcript: str = json.loads(ws.recv(timeout=DEADLINE))["transcript"]
    return transcript


def test_a_key_upstream_refuses_is_disabled_and_the_session_opens_with_the_other(
    keys: None, store: SqlStore
) -> None:
    with streaming_proxy(store=store, accounts=ACCOUNTS) as setup:
        assert one_word_session(setup.url()) == "thank"
        scrape = setup.gateway.metrics.exposition().decode()
    assert store.key_states()["team/STREAM_KEY_A"].disabled_reason == "upstream answered 401"
    assert 'aai_mcp_upstream_key_events_total{event="failover",key="team/STREAM_KEY_A"} 1.0' in scrape
    assert WRONG_KEY not in scrape and SIM_KEY not in scrape


def test_a_rate_limited_upgrade_cools_the_key_and_the_other_takes_the_session(
    monkeypatch: pytest.MonkeyPatch, store: SqlStore
) -> None:
    # Both names hold the simulator's key: which one opens the session is the pool's choice alone.
    monkeypatch.setenv("STREAM_KEY_A", SIM_KEY)
    monkeypatch.setenv("STREAM_KEY_B", SIM_KEY)
    with streaming_proxy(store=store, accounts=ACCOUNTS) as setup:
        setup.simulator.queue_fault("429", path_prefix="/v3/ws")  # A, tried first, is refused
        assert one_word_session(setup.url()) == "thank"
        scrape = setup.gateway.metrics.exposition().decode()
    states = store.key_states()
    assert states["team/STREAM_KEY_A"].cooling_until is not None
    assert "team/STREAM_KEY_B" not in states or states["team/STREAM_KEY_B"].cooling_until is None
    assert 'aai_mcp_upstream_key_events_total{event="rate_limited",key="team/STREAM_KEY_A"} 1.0' in scrape


def test_both_keys_rate_limited_gives_503_with_retry_after(keys: None, store: SqlStore) -> None:
    with streaming_proxy(store=store, accounts=ACCOUNTS) as setup:
        setup.simulator.queue_fault("429", path_prefix="/v3/ws", count=2)
        with pytest.raises(InvalidStatus) as refused:
            one_word_session(setup.url())
        streams = list(setup.simulator.streams)
    response = refused.value.response
    assert response.status_code == 503
    assert json.loads(response.body or b"{}")["error"]["code"] == "no_usable_key"
    assert int(response.headers["Retry-After"]) >= 1
    assert streams == []
