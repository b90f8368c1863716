"""The proof at scale (issue 13 part 8), on SQLite and a real PostgreSQL: the simulator seeded with
2 000 transcripts spanning 120 days (90-day retention), its wall clock ten days behind at first.

Backfill stores exactly the transcripts the simulator lists; an incremental sync after 50 new ones
stores those 50 and flags upstream_deleted, without fetching them, the archived ones past 90 days by
the real clock; then the simulator's clock catches up ten days: those transcripts are gone upstream
(404, not listed) yet `search` (the MCP tool, through the SDK client) and `search_archive` still find
them, marked expired and deleted upstream.

The kill -9 resume proof at the same scale is tests/test_archive_kill.py (real processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from mcp.client import Client
from pydantic import SecretStr

from aai_mcp.archive.backfill import BackfillPlan
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.state.store_schema import archived_transcripts
from aai_mcp.state.store_sql import SqlStore
from tests.support import make_settings
from tests.support.archive_runs import HISTORY_KEY, Seeded, available, backfill
from tests.support.archive_sync import PROCESSING_SECONDS, SimClock, submit, sync_of, upstream_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
HISTORY = 2000
BEHIND = timedelta(days=10)
RETENTION = timedelta(days=90)
QUERY = "frustrated"  # said in every simulated call


@dataclass
class Proof:
    seeded: Seeded
    clock: SimClock
    store: SqlStore
    archive: ArchiveStore

    def pass_time(self, span: timedelta) -> None:
        self.clock.now += span.total_seconds()

    async def upstream_status(self, transcript_id: str) -> int:
        async with upstream_of(self.seeded) as upstream:
            client = upstream._clients["api"]  # the raw answer, 404 included
            response = await client.get(f"/v2/transcript/{transcript_id}")
            return response.status_code


@pytest.fixture
async def proof(store: SqlStore) -> AsyncIterator[Proof]:
    clock = SimClock()
    config = SimulatorConfig(
        api_key=HISTORY_KEY,
        history_count=HISTORY,
        history_days=120,
        seed=21,
        clock=clock,
        processing_delay_seconds=PROCESSING_SECONDS,
        started_at=datetime.now(UTC) - BEHIND,
        record_requests=False,
    )
    yield Proof(Seeded(build_simulator_app(config)), clock, store, ArchiveStore(store.engine))


async def test_backfill_sync_and_search_after_expiry_at_2000_transcripts(proof: Proof) -> None:
    simulator = proof.seeded.simulator
    listed = available(simulator)
    progress, _pacer = await backfill(proof.seeded, proof.archive, BackfillPlan(concurrency=8))
    assert set(proof.archive.all_ids()) == listed and progress.archived == len(listed)
    assert 1200 < len(listed) < 1600  # ~3/4 of 120 days within the retention, 5 % failed

    async with upstream_of(proof.seeded) as upstream:
        sync = sync_of(upstream, proof.archive)
        new = await submit(proof.seeded, 50)
        proof.pass_time(timedelta(seconds=PROCESSING_SECONDS + 1))
        first = await sync.run()
        assert (first.new, first.pending) == (50, 0)
        assert set(new) <= set(proof.archive.all_ids()) and proof.archive.count() == len(listed) + 50

        proof.pass_time(BEHIND)
        expired = _expired_ids(proof)
        assert expired and all(simulator.expired(r) for r in _records(simulator, expired))
        target = min(expired)  # equal ranks (same words) are ordered by id: within search's 200
        assert await proof.upstream_status(target) == 404
        await _assert_found_marked_expired(proof, target)

        second = await sync.run()
    # The archive goes by the real clock, so those 80-90 days old by the simulator's lagging one were
    # already past the retention at the first sync; the simulator has caught up since.
    assert first.expired + second.expired == len(expired) and second.new == 0
    kept = proof.archive.get(target)
    assert kept is not None and kept.upstream_deleted is True


def _expired_ids(proof: Proof) -> list[str]:
    """Archived transcripts past the retention now (by the real clock, which the simulator now keeps)."""
    cutoff = (datetime.now(UTC) - RETENTION).timestamp()
    table = archived_transcripts
    query = sa.select(table.c.transcript_id).where(table.c.created_at < cutoff).order_by(table.c.created_at)
    with proof.store.engine.connect() as connection:
        return list(connection.execute(query).scalars())


def _records(simulator: Any, ids: list[str]) -> list[Any]:
    wanted = set(ids)
    return [r for r in simulator.transcripts.newest_first() if r.transcript_id in wanted]


async def _assert_found_marked_expired(proof: Proof, transcript_id: str) -> None:
    """Every simulated call says the same words, so search_archive is narrowed to the transcript's
    creation second, and search returns its 200 best hits (equal ranks, ordered by id)."""
    kept = proof.archive.get(transcript_id)
    assert kept is not None and kept.created_at is not None
    moment = datetime.fromtimestamp(kept.created_at, UTC)
    span = {
        "created_after": (moment - timedelta(seconds=1)).isoformat(),
        "created_before": (moment + timedelta(seconds=1)).isoformat(),
    }
    settings = make_settings(api_key=SecretStr(HISTORY_KEY), search_max_transcripts=200)
    gateway: Gateway = build_gateway(settings, transport=httpx.ASGITransport(app=proof.seeded.app))
    gateway.use_store(proof.store, proof.archive)
    try:
        async with Client(build_server(gateway)) as client:
            archived = await client.call_tool("search_archive", {"query": QUERY, **span})
            assert not archived.is_error, archived.content
            [hit] = archived.structured_content["results"]
            assert hit["transcript_id"] == transcript_id
            assert (hit["expired"], hit["upstream_deleted"]) == (True, True)
            found = await client.call_tool("search", {"query": QUERY})
            assert not found.is_error, found.content
            titles = {r["id"]: r["title"] for r in found.structured_content["results"]}
            assert "(archived; deleted upstream)" in titles[transcript_id]
    finally:
        await gateway.aclose()
