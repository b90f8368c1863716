"""MCP Tasks in the store: one row per task-augmented tool call, read by every instance.

A task id is 128 random bits, but it is not a credential: every read names the owner (a digest of the
caller's identity) too, and a task of another owner is answered exactly like a task that does not
exist. The tool's arguments are kept only as a digest: they may hold audio URLs with credentials.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from aai_mcp.state.store_schema import mcp_tasks

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
_TEXT_MAX = 1000
LIST_PAGE = 50


@dataclass(frozen=True)
class TaskRecord:
    """One task's row, as every instance reads it (times in epoch seconds)."""

    task_id: str
    owner: str
    account: str
    own_key: bool
    tool: str
    arguments_digest: str
    status: str
    created_at: float
    updated_at: float
    ttl_ms: int
    expires_at: float
    cancel_requested: bool = False
    status_message: str | None = None
    progress: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    transcript_id: str | None = None
    instance: str | None = None
    heartbeat_at: float | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def stalled(self, now: float, stale_seconds: float) -> bool:
        """Still working, but the instance running it stopped writing its heartbeat."""
        if self.terminal:
            return False
        beat = self.heartbeat_at if self.heartbeat_at is not None else self.created_at
        return now - beat > stale_seconds


@dataclass(frozen=True)
class TaskCaller:
    """Whose task it is: the owner digest, the account whose key runs it, and whether the caller's
    own key runs it instead (never kept, so no other instance can resume such a task)."""

    owner: str
    account: str = "default"
    own_key: bool = False


def owner_of(principal_id: str, partition: str) -> str:
    """The owner digest of a caller: its identity and the key its calls bill (so two callers that share
    an id but not a key, e.g. passthrough keys, never see each other's tasks)."""
    return hashlib.sha256(f"{principal_id}\n{partition}".encode()).hexdigest()


def arguments_digest(arguments: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(arguments, sort_keys=True, default=str).encode()).hexdigest()


def _clipped(text: str | None) -> str | None:
    return None if text is None else text[:_TEXT_MAX]


class TaskRecords:
    """The mcp_tasks table on one engine (the platform store's). Calls block: run them in a thread."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self.page_size = LIST_PAGE

    def create(
        self, caller: TaskCaller, tool: str, arguments: dict[str, Any], ttl_ms: int, instance: str
    ) -> TaskRecord:
        now = self.clock()
        values: dict[str, Any] = {
            "task_id": secrets.token_urlsafe(16),
            "principal": caller.owner,
            "account": caller.account,
            "own_key": caller.own_key,
            "tool": tool,
            "arguments_digest": arguments_digest(arguments),
            "status": "working",
            "status_message": "The task is starting.",
            "cancel_requested": False,
            "instance": instance,
            "heartbeat_at": now,
            "created_at": now,
            "updated_at": now,
            "ttl_ms": ttl_ms,
            "expires_at": now + ttl_ms / 1000,
        }
        with self.engine.begin() as connection:
            connection.execute(mcp_tasks.insert().values(**values))
        return _record(values)

    def get(self, task_id: str, owner: str) -> TaskRecord | None:
        """The owner's task; None when there is none, it is another owner's, or it expired."""
        query = sa.select(mcp_tasks).where(
            mcp_tasks.c.task_id == task_id,
            mcp_tasks.c.principal == owner,
            mcp_tasks.c.expires_at > self.clock(),
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _record(dict(row))

    def page(self, owner: str, after: float | None = None) -> list[TaskRecord]:
        """The owner's live tasks, newest first, LIST_PAGE at a time (`after`: the last one's created_at)."""
        live = sa.and_(mcp_tasks.c.principal == owner, mcp_tasks.c.expires_at > self.clock())
        query = sa.select(mcp_tasks).where(live)
        if after is not None:
            query = query.where(mcp_tasks.c.created_at < after)
        query = query.order_by(mcp_tasks.c.created_at.desc()).limit(self.page_size)
        with self.engine.connect() as connection:
            return [_record(dict(row)) for row in connection.execute(query).mappings()]

    def report(self, task_id: str, message: str, progress: float | None = None) -> None:
        """A status message (and progress) from the instance running the task; also its heartbeat."""
        now = self.clock()
        self._update_working(
            task_id, status_message=_clipped(message), progress=progress, updated_at=now, heartbeat_at=now
        )

    def beat(self, task_id: str, instance: str) -> None:
        self._update_working(task_id, instance=instance, heartbeat_at=self.clock())

    def note_transcript(self, task_id: str, transcript_id: str) -> None:
        """The upstream job the task started: kept so a restart resumes it and a cancel can name it."""
        self._update_working(task_id, transcript_id=transcript_id[:100], updated_at=self.clock())

    def claim(self, task_id: str, instance: str, stale_before: float) -> bool:
        """Take over a stalled task; False when another instance beat this one to it."""
        stalled = sa.or_(mcp_tasks.c.heartbeat_at.is_(None), mcp_tasks.c.heartbeat_at < stale_before)
        return self._update_working(task_id, stalled, instance=instance, heartbeat_at=self.clock()) == 1

    def finish(self, task_id: str, status: TaskStatus, result: dict[str, Any], message: str) -> bool:
        """Settle a working task; False when it was already settled (a cancel came first)."""
        values = {"status": status, "result": result, "status_message": _clipped(message)}
        return self._update_working(task_id, **values, updated_at=self.clock()) == 1

    def fail(self, task_id: str, error: str) -> bool:
        values = {"status": "failed", "error": _clipped(error), "status_message": _clipped(error)}
        return self._update_working(task_id, **values, updated_at=self.clock()) == 1

    def cancel(self, task_id: str, owner: str, message: str) -> TaskRecord | None:
        """Mark the owner's working task cancelled (the instance running it sees the flag and stops);
        the task as it now stands, or None when the owner has no such task."""
        where = sa.and_(mcp_tasks.c.task_id == task_id, mcp_tasks.c.principal == owner)
        values = {"status": "cancelled", "cancel_requested": True, "status_message": _clipped(message)}
        query = mcp_tasks.update().where(where, mcp_tasks.c.status.not_in(TERMINAL))
        with self.engine.begin() as connection:
            connection.execute(query.values(**values, updated_at=self.clock()))
        return self.get(task_id, owner)

    def peek(self, task_id: str) -> TaskRecord | None:
        """The task whoever owns it: only for the instance running it, never for a caller's request."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(sa.select(mcp_tasks).where(mcp_tasks.c.task_id == task_id))
                .mappings()
                .first()
            )
        return None if row is None else _record(dict(row))

    def explain_cancel(self, task_id: str, message: str) -> None:
        """A cancelled task's message, once the work it stopped says where its transcript is."""
        cancelled = sa.and_(mcp_tasks.c.task_id == task_id, mcp_tasks.c.status == "cancelled")
        with self.engine.begin() as connection:
            connection.execute(mcp_tasks.update().where(cancelled).values(status_message=_clipped(message)))

    def status_of(self, task_id: str) -> str | None:
        query = sa.select(mcp_tasks.c.status).where(mcp_tasks.c.task_id == task_id)
        with self.engine.connect() as connection:
            status = connection.execute(query).scalar()
        return None if status is None else str(status)

    def prune(self) -> int:
        """Delete expired tasks; how many."""
        query = mcp_tasks.delete().where(mcp_tasks.c.expires_at <= self.clock())
        with self.engine.begin() as connection:
            return connection.execute(query).rowcount

    def _update_working(self, task_id: str, *where: Any, **values: Any) -> int:
        working = sa.and_(mcp_tasks.c.task_id == task_id, mcp_tasks.c.status.not_in(TERMINAL))
        query = mcp_tasks.update().where(working, *where)
        with self.engine.begin() as connection:
            return connection.execute(query.values(**values)).rowcount


def _record(row: dict[str, Any]) -> TaskRecord:
    fields = dict(row)
    fields["owner"] = fields.pop("principal")
    fields["cancel_requested"] = bool(fields.get("cancel_requested"))
    fields["own_key"] = bool(fields.get("own_key"))
    return TaskRecord(**fields)
