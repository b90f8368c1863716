"""Team quotas and usage on the streaming proxy, over real loopback sockets: the team's
`stream_seconds` caps its sessions below the server-wide cap, each upgrade counts against its
requests per minute (429 before the upgrade, with the headers), and a session's audio is recorded
as the team's usage in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from aai_mcp.state.store import UsageTotals
from aai_mcp.state.store_sql import SqlStore
from tests.support.proxy_harness import proxy_token
from tests.support.servers import wait_until
from tests.support.stream_proxy import StreamingSetup, streaming_proxy
from tests.support.streaming_ws import pcm

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
DEADLINE = 30.0  # generous: a loaded 2-core machine answers in milliseconds


def session(setup: StreamingSetup) -> ClientConnection:
    headers = {"Authorization": proxy_token()}
    return connect(setup.url(), additional_headers=headers, open_timeout=DEADLINE)


def until_close(ws: ClientConnection) -> list[dict[str, Any]]:
    received = []
    try:
        while True:
            received.append(json.loads(ws.recv(timeout=DEADLINE)))
    except ConnectionClosed:
        return received


def test_a_sessions_audio_is_the_teams_usage(store: SqlStore) -> None:
    with streaming_proxy(store=store) as setup, session(setup) as ws:
        assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        ws.send(pcm(1500))
        ws.send(json.dumps({"type": "Terminate"}))
        until_close(ws)
        wait_until(lambda: setup.ended and store.usage_totals(0), DEADLINE, "the session's usage")
        scrape = setup.gateway.metrics.exposition().decode()
    ((account, audio, _),) = setup.ended
    assert account == "default" and audio is not None and audio == pytest.approx(1.5, abs=0.5)
    assert store.usage_totals(0) == [UsageTotals("default", stream_seconds=audio, streams=1)]
    assert f'aai_mcp_team_stream_seconds_total{{team="default"}} {float(audio)}' in scrape


def test_the_teams_stream_seconds_cap_its_sessions(store: SqlStore) -> None:
    team_cap = "default:stream_seconds=1"  # the server-wide cap is far longer
    with (
        streaming_proxy(store=store, team_quotas=team_cap, proxy_stream_max_seconds=3600.0) as setup,
        session(setup) as ws,
    ):
        assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        ws.send(pcm(300))
        received = until_close(ws)  # nothing more sent: the team's cap ends the session
    assert received[-1]["type"] == "Termination"
    assert (ws.close_code, ws.close_reason) == (4008, "aai-mcp session cap reached (1 s)")


def test_each_upgrade_counts_against_the_teams_requests_per_minute(store: SqlStore) -> None:
    with streaming_proxy(store=store, team_quotas="default:rpm=1") as setup:
        with session(setup) as ws:
            assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        with pytest.raises(InvalidStatus) as refused:
            session(setup)
        streams = len(setup.simulator.streams)
    response = refused.value.response
    assert response.status_code == 429
    assert json.loads(response.body or b"{}")["code"] == "team_quota"
    assert response.headers["RateLimit-Limit"] == "1" and response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["Retry-After"] == response.headers["RateLimit-Reset"]
    assert streams == 1  # the refused one never reached upstream
