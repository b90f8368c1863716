"""`archive backfill` against the simulator seeded with 300 transcripts over 120 days (in process, no
socket), on SQLite and PostgreSQL: exactly the available completed ones stored, once; a 429 waited out
for its Retry-After; filters; a run stopped mid-page resumes without fetching again what it stored."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from aai_mcp.archive.backfill import BackfillPlan, Progress
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.state.store_sql import SqlStore
from tests.support.archive_runs import FakeTime, available, backfill, fetches, seeded_simulator

pytestmark = pytest.mark.anyio


async def test_a_backfill_stores_exactly_the_available_completed_transcripts(store: SqlStore) -> None:
    seeded = seeded_simulator()
    archive = ArchiveStore(store.engine)
    expected = available(seeded.simulator)
    assert 150 < len(expected) < len(seeded.simulator.transcripts)
    progress, pacer = await backfill(seeded, archive, BackfillPlan(page_size=50, sentences=True))
    assert set(archive.all_ids()) == expected and archive.count() == len(expected)
    assert progress.archived == len(expected) and pacer.waits == []
    assert all(count == 1 for count in fetches(seeded.simulator).values())
    one = archive.get(sorted(expected)[0])
    assert one is not None and one.text and one.sentences and one.created_at and one.completed_at
    assert "audio_url" not in one.request_config and one.request_config["speech_models"] == ["universal"]
    again, _ = await backfill(seeded, archive, BackfillPlan(page_size=50, sentences=True))
    assert again.archived == 0 and again.already == len(expected) and archive.count() == len(expected)


async def test_a_429_mid_run_is_waited_out_for_its_retry_after(store: SqlStore) -> None:
    seeded = seeded_simulator(count=40, days=20)
    simulator = seeded.simulator
    simulator.queue_fault("429", count=1, path_prefix="/v2/transcript/")
    archive, time = ArchiveStore(store.engine), FakeTime()
    progress, pacer = await backfill(seeded, archive, BackfillPlan(page_size=10, concurrency=1), time)
    assert set(archive.all_ids()) == available(simulator)
    retry_after = simulator.config.retry_after_seconds
    assert pacer.waits == [retry_after] and progress.waits == [retry_after]
    assert retry_after in time.slept  # the next call waited for it: no blind retry
    counts = fetches(simulator)
    assert sorted(counts.values()).count(2) == 1 and sum(counts.values()) == len(counts) + 1


async def test_the_filters_choose_the_transcripts(store: SqlStore) -> None:
    seeded = seeded_simulator(count=120, days=60)
    simulator = seeded.simulator
    archive = ArchiveStore(store.engine)
    records = [r for r in simulator.transcripts.newest_first() if not simulator.expired(r)]
    today = simulator.wall_now().date()
    since, until = today - timedelta(days=40), today - timedelta(days=20)
    plan = BackfillPlan(since=since, until=until, page_size=7)
    await backfill(seeded, archive, plan)
    in_window = {
        r.transcript_id for r in records if since <= r.created_wall.date() <= until and r.failure is None
    }
    assert set(archive.all_ids()) == in_window and in_window

    failed = ArchiveStore(store.engine)
    await backfill(seeded, failed, BackfillPlan(status="error", page_size=20))
    assert available(simulator, "error") <= set(failed.all_ids())


async def test_after_id_pages_toward_newer_transcripts(store: SqlStore) -> None:
    seeded = seeded_simulator(count=60, days=30)
    simulator = seeded.simulator
    ordered = [r for r in simulator.transcripts.newest_first() if simulator.status_of(r) == "completed"]
    pivot = ordered[25].transcript_id
    archive = ArchiveStore(store.engine)
    await backfill(seeded, archive, BackfillPlan(after_id=pivot, page_size=6))
    assert set(archive.all_ids()) == {r.transcript_id for r in ordered[:25]}


async def test_before_id_with_after_id_takes_the_span_between(store: SqlStore) -> None:
    seeded = seeded_simulator(count=60, days=30)
    simulator = seeded.simulator
    ordered = [r for r in simulator.transcripts.newest_first() if simulator.status_of(r) == "completed"]
    plan = BackfillPlan(before_id=ordered[5].transcript_id, after_id=ordered[30].transcript_id, page_size=4)
    archive = ArchiveStore(store.engine)
    await backfill(seeded, archive, plan)
    assert set(archive.all_ids()) == {r.transcript_id for r in ordered[6:30]}


class Stop(Exception):
    """Stands in for a crash in the middle of a page."""


async def test_a_stopped_run_resumes_without_loss_or_fetching_twice(store: SqlStore) -> None:
    seeded = seeded_simulator()
    archive = ArchiveStore(store.engine)
    plan = BackfillPlan(page_size=40, concurrency=1)

    def crash_after_130(progress: Progress, _page_done: bool) -> None:
        if progress.archived == 130:
            raise Stop

    with pytest.raises(Stop):  # itself, not in a group: the CLI's `except` clauses see it
        await backfill(seeded, archive, plan, report=crash_after_130)
    stored = archive.count()  # 130, or one more the next fetch finished before the crash reached it
    assert 130 <= stored <= 131
    checkpoint = archive.checkpoint(plan.run_key())
    assert checkpoint is not None and checkpoint.pages == 3 and checkpoint.finished_at is None

    resumed, _ = await backfill(seeded, archive, plan)
    assert resumed.resumed_from == checkpoint.cursor_id
    assert set(archive.all_ids()) == available(seeded.simulator)
    assert resumed.already == stored - 120  # page 4's part stored before the crash: not fetched again
    assert all(count == 1 for count in fetches(seeded.simulator).values())
    finished = archive.checkpoint(plan.run_key())
    assert finished is not None and finished.finished_at is not None


def test_a_plan_is_resumed_only_by_the_same_plan() -> None:
    assert BackfillPlan(page_size=10).run_key() == BackfillPlan(page_size=99, concurrency=9).run_key()
    assert BackfillPlan().run_key() != BackfillPlan(since=date(2026, 1, 1)).run_key()
    assert BackfillPlan().run_key() != BackfillPlan(sentences=True).run_key()
