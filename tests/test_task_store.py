"""MCP Tasks in the store (issue 18): owner-scoped reads, settling once, stalled-task claims; on
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from aai_mcp.state.store_sql import SqlStore
from aai_mcp.state.task_store import TaskCaller, TaskRecords, arguments_digest, owner_of
from tests.support.stores import store, store_config  # noqa: F401  (fixtures)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def records(store: SqlStore, clock: Clock) -> TaskRecords:  # noqa: F811
    return TaskRecords(store.engine, clock)


ALICE, BOB = owner_of("alice", "account:default"), owner_of("bob", "account:default")


def test_a_task_is_read_only_by_its_owner_and_keeps_no_argument_values(records: TaskRecords) -> None:
    secret_url = "https://audio.example/x.wav?sig=do-not-store"
    task = records.create(TaskCaller(ALICE), "transcribe", {"audio": secret_url}, 60_000, "i1")
    assert len(task.task_id) >= 22 and task.status == "working"
    assert records.get(task.task_id, ALICE) == task
    assert records.get(task.task_id, BOB) is None
    assert [t.task_id for t in records.page(ALICE)] == [task.task_id]
    assert records.page(BOB) == []
    assert task.arguments_digest == arguments_digest({"audio": secret_url})
    assert "do-not-store" not in repr(task)


def test_the_same_id_with_another_key_is_another_owner() -> None:
    assert owner_of("passthrough:x", "key:aaaa") != owner_of("passthrough:x", "key:bbbb")


def test_progress_then_one_settlement(records: TaskRecords, clock: Clock) -> None:
    task = records.create(TaskCaller(ALICE), "transcribe", {}, 60_000, "i1")
    clock.now += 5
    records.report(task.task_id, "processing (12 s so far)", 0.5)
    records.note_transcript(task.task_id, "tr_1")
    seen = records.get(task.task_id, ALICE)
    assert seen is not None
    assert (seen.status_message, seen.progress) == ("processing (12 s so far)", 0.5)
    assert seen.transcript_id == "tr_1"
    assert seen.heartbeat_at == clock.now
    assert records.finish(task.task_id, "completed", {"content": []}, "done")
    assert not records.fail(task.task_id, "late")
    done = records.get(task.task_id, ALICE)
    assert done is not None and done.status == "completed" and done.result == {"content": []}


def test_cancel_wins_over_a_late_result_and_is_owner_scoped(records: TaskRecords) -> None:
    task = records.create(TaskCaller(ALICE), "transcribe", {}, 60_000, "i1")
    assert records.cancel(task.task_id, BOB, "cancelled") is None
    assert records.status_of(task.task_id) == "working"
    cancelled = records.cancel(task.task_id, ALICE, "cancelled by the client")
    assert cancelled is not None and cancelled.status == "cancelled" and cancelled.cancel_requested
    assert not records.finish(task.task_id, "completed", {}, "late")
    assert records.status_of(task.task_id) == "cancelled"


def test_expired_tasks_are_gone_and_pruned(records: TaskRecords, clock: Clock) -> None:
    task = records.create(TaskCaller(ALICE), "transcribe", {}, 1_000, "i1")
    clock.now += 2
    assert records.get(task.task_id, ALICE) is None
    assert records.page(ALICE) == []
    assert records.prune() == 1


def test_a_stalled_task_is_claimed_by_one_instance(records: TaskRecords, clock: Clock) -> None:
    task = records.create(TaskCaller(ALICE), "transcribe", {}, 600_000, "i1")
    clock.now += 10
    assert not records.claim(task.task_id, "i2", stale_before=clock.now - 30)  # i1 beat 10 s ago
    assert task.stalled(clock.now, 30) is False
    clock.now += 60
    seen = records.get(task.task_id, ALICE)
    assert seen is not None and seen.stalled(clock.now, 30)
    assert records.claim(task.task_id, "i2", stale_before=clock.now - 30)
    assert not records.claim(task.task_id, "i3", stale_before=clock.now - 30)
    claimed = records.get(task.task_id, ALICE)
    assert claimed is not None and claimed.instance == "i2"
