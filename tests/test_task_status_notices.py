"""The end of a task told to the session that created it (notifications/tasks/status): once, with the
state the task ended in; never for a task left working (an instance shutting down); and a session that
fails or hangs costs the task nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from aai_mcp.mcp_server.tasks import task_work
from aai_mcp.mcp_server.tasks.task_work import announce_end
from aai_mcp.state.store_sql import open_store
from aai_mcp.state.task_store import TaskCaller, TaskRecord, TaskRecords, owner_of

pytestmark = pytest.mark.anyio

ALICE = owner_of("alice", "account:default")


@pytest.fixture
def records(tmp_path: Path) -> Iterator[TaskRecords]:
    store = open_store(tmp_path, None, {}, auto_upgrade=True)
    yield TaskRecords(store.engine, time.time)
    store.close()


def working(records: TaskRecords) -> str:
    return records.create(TaskCaller(ALICE), "transcribe", {}, 60_000, "instance-1").task_id


async def test_a_task_that_ended_is_announced_with_the_state_it_ended_in(records: TaskRecords) -> None:
    task_id = working(records)
    records.finish(task_id, "completed", {"content": []}, "Completed.")
    heard: list[TaskRecord] = []

    async def listener(task: TaskRecord) -> None:
        heard.append(task)

    await announce_end(records, task_id, listener)
    assert [(task.task_id, task.status, task.status_message) for task in heard] == [
        (task_id, "completed", "Completed.")
    ]


async def test_a_task_left_working_is_not_announced(records: TaskRecords) -> None:
    task_id = working(records)
    heard: list[TaskRecord] = []

    async def listener(task: TaskRecord) -> None:
        heard.append(task)

    await announce_end(records, task_id, listener)
    assert heard == []


async def test_a_session_that_fails_or_hangs_costs_the_task_nothing(
    records: TaskRecords, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = working(records)
    records.finish(task_id, "failed", {"content": [], "isError": True}, "The tool reported an error.")

    async def gone(task: TaskRecord) -> None:
        raise anyio.BrokenResourceError

    await announce_end(records, task_id, gone)  # no exception reaches the task
    monkeypatch.setattr(task_work, "NOTIFY_SECONDS", 0.2)

    async def stuck(task: TaskRecord) -> None:
        await anyio.Event().wait()

    with anyio.fail_after(30):  # bounded by NOTIFY_SECONDS, not by the session
        await announce_end(records, task_id, stuck)
