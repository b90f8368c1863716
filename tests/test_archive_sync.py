"""`archive sync` against the in-process simulator with a clock the test moves, on SQLite and
PostgreSQL: after a backfill, exactly the new transcripts stored; a transcript pending at one sync
stored by the next once it finished; the checkpoint; a 429 waited out; two syncs at once (one runs,
the other is told and stores nothing); a lapsed lease taken over."""

from __future__ import annotations

import anyio
import pytest

from aai_mcp.archive.backfill import BackfillPlan
from aai_mcp.archive.sync import LEASE_NAME, LEASE_SECONDS, SYNC_RUN_KEY, LeaseLost, SyncBusy, SyncCounts
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.state.store_leases import StoreLeases
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.upstream.errors import UpstreamError
from tests.support.archive_runs import FakeTime, available, backfill, fetches
from tests.support.archive_sync import PROCESSING_SECONDS, clocked_simulator, submit, sync_of, upstream_of

pytestmark = pytest.mark.anyio


async def test_after_a_backfill_a_sync_stores_exactly_the_50_new_transcripts(store: SqlStore) -> None:
    seeded, clock = clocked_simulator()
    archive = ArchiveStore(store.engine)
    await backfill(seeded, archive, BackfillPlan(page_size=50))
    before = set(archive.all_ids())
    assert before == available(seeded.simulator)
    new = await submit(seeded, 50)
    clock.now += PROCESSING_SECONDS + 1
    async with upstream_of(seeded) as upstream:
        counts = await sync_of(upstream, archive, page_size=20).run()
    assert counts.new == 50 and counts.completed == 0 and counts.pending == 0 and counts.pages == 3
    assert set(archive.all_ids()) == before | set(new) and archive.count() == len(before) + 50
    assert all(fetches(seeded.simulator)[i] == 1 for i in new)
    checkpoint = archive.checkpoint(SYNC_RUN_KEY)
    assert checkpoint is not None and checkpoint.cursor_id == new[-1] and checkpoint.archived == 50

    async with upstream_of(seeded) as upstream:
        again = await sync_of(upstream, archive).run()
    assert again == SyncCounts(pages=0) and archive.count() == len(before) + 50


async def test_a_transcript_pending_at_one_sync_is_stored_by_the_next(store: SqlStore) -> None:
    seeded, clock = clocked_simulator(count=30)
    archive = ArchiveStore(store.engine)
    await backfill(seeded, archive, BackfillPlan())
    [early] = await submit(seeded, 1)
    clock.now += PROCESSING_SECONDS + 1
    [late] = await submit(seeded, 1)  # queued when sync 1 lists it
    async with upstream_of(seeded) as upstream:
        first = await sync_of(upstream, archive).run()
        assert (first.new, first.pending) == (1, 1) and archive.pending_ids() == [late]
        assert early in archive.all_ids() and late not in archive.all_ids()
        still = await sync_of(upstream, archive).run()  # not finished yet: stays pending
        assert (still.completed, still.pending) == (0, 1)
        clock.now += PROCESSING_SECONDS
        second = await sync_of(upstream, archive).run()
    assert (second.new, second.completed, second.pending) == (0, 1, 0)
    stored = archive.get(late)
    assert stored is not None and stored.status == "completed" and stored.text
    assert archive.pending_ids() == []


async def test_a_first_sync_on_an_empty_archive_starts_from_now(store: SqlStore) -> None:
    seeded, clock = clocked_simulator(count=40)
    archive = ArchiveStore(store.engine)
    async with upstream_of(seeded) as upstream:
        first = await sync_of(upstream, archive).run()
        assert first.started_from_now and first.new == 0 and archive.count() == 0
        new = await submit(seeded, 3)
        clock.now += PROCESSING_SECONDS + 1
        second = await sync_of(upstream, archive).run()
    assert second.new == 3 and set(archive.all_ids()) == set(new)


async def test_a_429_during_a_sync_is_waited_out(store: SqlStore) -> None:
    seeded, clock = clocked_simulator(count=10)
    archive = ArchiveStore(store.engine)
    await backfill(seeded, archive, BackfillPlan())
    new = await submit(seeded, 5)
    clock.now += PROCESSING_SECONDS + 1
    seeded.simulator.queue_fault("429", count=1, path_prefix="/v2/transcript/")
    time = FakeTime()
    async with upstream_of(seeded) as upstream:
        sync = sync_of(upstream, archive, time, concurrency=1)
        counts = await sync.run()
    retry_after = seeded.simulator.config.retry_after_seconds
    assert counts.new == 5 and set(new) <= set(archive.all_ids())
    assert sync.pacer.waits == [retry_after] and retry_after in time.slept


async def test_two_syncs_at_once_one_runs_the_other_is_told(store: SqlStore) -> None:
    seeded, clock = clocked_simulator(count=20)
    archive = ArchiveStore(store.engine)
    await backfill(seeded, archive, BackfillPlan())
    new = await submit(seeded, 30)
    clock.now += PROCESSING_SECONDS + 1
    outcomes: list[SyncCounts | SyncBusy] = []

    async def one() -> None:
        async with upstream_of(seeded) as upstream:
            try:
                outcomes.append(await sync_of(upstream, ArchiveStore(store.engine), page_size=5).run())
            except SyncBusy as busy:
                outcomes.append(busy)

    async with anyio.create_task_group() as group:
        group.start_soon(one)
        group.start_soon(one)
    [ran] = [o for o in outcomes if isinstance(o, SyncCounts)]
    [told] = [o for o in outcomes if isinstance(o, SyncBusy)]
    assert ran.new == 30 and "another sync is running" in str(told)
    assert all(fetches(seeded.simulator)[i] == 1 for i in new)
    assert StoreLeases(store.engine).holder(LEASE_NAME) is None  # released when done


def test_a_lease_is_one_holders_until_it_lapses(store: SqlStore) -> None:
    now = [1000.0]
    leases = StoreLeases(store.engine, clock=lambda: now[0])
    assert leases.claim("job", "a", 60) and not leases.claim("job", "b", 60)
    assert leases.claim("job", "a", 60)  # renewal
    holder = leases.holder("job")
    assert holder is not None and holder.holder == "a" and holder.expires_at == 1060
    now[0] += 61  # "a" crashed: its lease lapses
    assert leases.holder("job") is None and leases.claim("job", "b", 60)
    leases.release("job", "a")  # not a's any more: stays b's
    assert leases.holder("job") is not None and not leases.claim("job", "a", 60)
    leases.release("job", "b")
    assert leases.claim("job", "a", 60)


async def test_a_round_stopped_mid_way_loses_nothing_and_the_next_fetches_nothing_twice(
    store: SqlStore,
) -> None:
    seeded, clock = clocked_simulator(count=10)
    archive = ArchiveStore(store.engine)
    await backfill(seeded, archive, BackfillPlan())
    new = await submit(seeded, 30)
    clock.now += PROCESSING_SECONDS + 1
    stuck = new[15]  # on the second page upward (pages of 10)
    seeded.simulator.queue_fault("429", count=8, path_prefix=f"/v2/transcript/{stuck}")
    async with upstream_of(seeded) as upstream:
        with pytest.raises(UpstreamError, match="429|rate"):
            await sync_of(upstream, archive, page_size=10, concurrency=1).run()
        checkpoint = archive.checkpoint(SYNC_RUN_KEY)
        assert checkpoint is not None and checkpoint.cursor_id == new[9]  # page 1 done, page 2 not
        held_at_stop = set(archive.all_ids()) & set(new)
        assert set(new[:10]) <= held_at_stop and stuck not in held_at_stop
        assert StoreLeases(store.engine).holder(LEASE_NAME) is None  # released on the way out
        resumed = await sync_of(upstream, archive, page_size=10, concurrency=1).run()
    assert resumed.already == len(held_at_stop) - 10 and resumed.new == 30 - len(held_at_stop)
    assert set(new) <= set(archive.all_ids())
    counts = fetches(seeded.simulator)
    assert counts[stuck] == 9 and all(counts[i] == 1 for i in new if i != stuck)


async def test_a_sync_whose_lease_lapsed_and_was_taken_stops_at_the_next_page(store: SqlStore) -> None:
    seeded, clock = clocked_simulator(count=10)
    archive = ArchiveStore(store.engine)
    await backfill(seeded, archive, BackfillPlan())
    await submit(seeded, 30)
    clock.now += PROCESSING_SECONDS + 1
    lease_now = [1000.0]
    leases = StoreLeases(store.engine, clock=lambda: lease_now[0])
    time = FakeTime()

    async def stall_then_lose_the_lease(seconds: float) -> None:
        await time.sleep(seconds)
        if len(time.slept) == 5:  # on page 1: this sync stalls past its lease, another takes it
            lease_now[0] += LEASE_SECONDS + 1
            assert leases.claim(LEASE_NAME, "other-host:1:ffff", LEASE_SECONDS)

    async with upstream_of(seeded) as upstream:
        sync = sync_of(upstream, archive, time, page_size=10, concurrency=1)
        sync.leases = leases
        sync.pacer.sleep = stall_then_lose_the_lease
        with pytest.raises(LeaseLost, match="other-host"):
            await sync.run()
    holder = leases.holder(LEASE_NAME)
    assert holder is not None and holder.holder == "other-host:1:ffff"  # ours gone, theirs kept
    checkpoint = archive.checkpoint(SYNC_RUN_KEY)
    assert checkpoint is not None and checkpoint.pages == 1  # it stopped before a second page
