"""`archive sync --every`: the schedule runs rounds start to start (driven by a fake clock and sleep,
no waiting), each round's counts are said; the interval's syntax; the command in process: a sync that
finds the lease held says so and exits 0, and a round's counts reach stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from aai_mcp.archive.backfill import BackfillPlan
from aai_mcp.archive.schedule import every
from aai_mcp.archive.sync import LEASE_NAME
from aai_mcp.cli.archive_admin import sync_round
from aai_mcp.cli.main import main
from aai_mcp.config.archive_options import interval_seconds
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.state.store_leases import StoreLeases
from aai_mcp.state.store_sql import SqlStore, open_store
from tests.support.archive_runs import FakeTime, backfill
from tests.support.archive_sync import PROCESSING_SECONDS, clocked_simulator, submit, sync_of, upstream_of


@pytest.mark.anyio
async def test_every_runs_rounds_an_interval_apart_and_each_stores_what_is_new(
    store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded, sim_clock = clocked_simulator(count=20)
    archive = ArchiveStore(store.engine)
    await backfill(seeded, archive, BackfillPlan())
    time = FakeTime()
    submitted: list[str] = []

    async def between_rounds(seconds: float) -> None:
        await time.sleep(seconds)
        submitted.extend(await submit(seeded, 4))
        sim_clock.now += PROCESSING_SECONDS + 1

    async with upstream_of(seeded) as upstream:
        sync = sync_of(upstream, archive)

        async def round_(number: int) -> None:
            time.now += 7.0  # the round's own duration
            await sync_round(sync, number)

        await every(3600, round_, sleep=between_rounds, clock=time.clock, rounds=2)
    assert time.slept == [3600 - 7.0]  # start to start
    assert set(submitted) <= set(archive.all_ids()) and len(submitted) == 4
    lines = [line for line in capsys.readouterr().err.splitlines() if "sync round" in line]
    assert [line.split(":")[1].strip() for line in lines] == ["sync round 1", "sync round 2"]
    assert "0 new" in lines[0] and "4 new" in lines[1]


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("1d", 86400)]
)
def test_an_interval_is_a_duration(text: str, seconds: float) -> None:
    assert interval_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "0s", "1x", "1h 30m", "-5m"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration|more than 0"):
        interval_seconds(text)


def test_the_command_says_when_another_sync_holds_the_lease(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ASSEMBLYAI_API_KEY", raising=False)  # the built-in simulator, in process
    monkeypatch.delenv("AAI_MCP_DATABASE_URL", raising=False)
    monkeypatch.setenv("AAI_MCP_DATA_DIR", str(tmp_path))
    store = open_store(tmp_path, None, {})
    try:
        assert StoreLeases(store.engine).claim(LEASE_NAME, "cron-host:4242:abcd", 300)
        assert main(["archive", "sync"]) == 0
        assert "another sync is running (cron-host:4242:abcd, lease until" in capsys.readouterr().err
        assert ArchiveStore(store.engine).checkpoint("sync") is None  # it did nothing
        StoreLeases(store.engine).release(LEASE_NAME, "cron-host:4242:abcd")
        assert main(["archive", "sync"]) == 0
        assert "sync: 0 new" in capsys.readouterr().err
        assert ArchiveStore(store.engine).checkpoint("sync") is not None
    finally:
        store.close()


@pytest.mark.anyio
async def test_a_round_stopped_by_upstream_says_so_and_returns_1(
    store: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded, sim_clock = clocked_simulator(count=5)
    archive = ArchiveStore(store.engine)
    await backfill(seeded, archive, BackfillPlan())
    await submit(seeded, 3)
    sim_clock.now += PROCESSING_SECONDS + 1
    seeded.simulator.queue_fault("429", count=8, path_prefix="/v2/transcript/")  # a fetch, in a group
    async with upstream_of(seeded) as upstream:
        assert await sync_round(sync_of(upstream, archive, concurrency=1), 2) == 1
    said = capsys.readouterr().err
    assert "sync round 2:" in said and "the next sync goes on from the checkpoint" in said
