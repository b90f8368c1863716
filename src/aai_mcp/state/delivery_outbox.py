"""The delivery outbox in the store: events to deliver, one row per event and destination, claimed by
workers under a lease so two instances never send the same row at once.

Claiming is one UPDATE of the due rows a worker may take: on PostgreSQL the rows are picked with
SELECT ... FOR UPDATE SKIP LOCKED (a second worker skips them instead of waiting), on SQLite the
UPDATE itself is the conditional claim (one writer at a time). Every result is recorded only while
the worker still holds the row's lease.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from aai_mcp.state.store_schema import delivery_events, delivery_outbox

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
MAX_ERROR_CHARS = 300
State = Literal["pending", "delivered", "dead"]


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(16)


@dataclass(frozen=True)
class Claimed:
    """One outbox row a worker holds: what to send and to whom."""

    seq: int
    event_id: str
    destination: str
    attempts: int
    kind: str
    subject_id: str
    payload: Any
    created_at: float


@dataclass(frozen=True)
class DeadLetter:
    """A row whose last try failed for good."""

    event_id: str
    destination: str
    kind: str
    subject_id: str
    attempts: int
    last_status: int | None
    last_error: str | None
    finished_at: float | None


class DeliveryOutbox:
    """The outbox on one engine (the platform store's)."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def enqueue(self, kind: str, subject_id: str, payload: Any, destinations: Iterable[str]) -> str | None:
        """Record one event for every destination, in a transaction of its own; its id (None when
        there is no destination)."""
        with self.engine.begin() as connection:
            return self.enqueue_in(connection, kind, subject_id, payload, destinations)

    def enqueue_in(
        self, connection: sa.Connection, kind: str, subject_id: str, payload: Any, destinations: Iterable[str]
    ) -> str | None:
        """The same inside the caller's transaction: the event is recorded exactly when what it is
        about is (the transactional outbox), so a crash between the two can lose neither. One event per
        (kind, subject_id): None when that subject was enqueued before."""
        names = list(dict.fromkeys(destinations))
        if not names:
            return None
        event_id, now = new_event_id(), self.clock()
        insert = (sqlite.insert if connection.dialect.name == "sqlite" else postgresql.insert)(
            delivery_events
        )
        values = {"event_id": event_id, "kind": kind, "subject_id": subject_id, "payload": payload}
        statement = insert.values(**values, created_at=now).on_conflict_do_nothing(
            index_elements=["kind", "subject_id"]
        )
        if connection.execute(statement.returning(delivery_events.c.event_id)).first() is None:
            return None  # enqueued before (by another capture path, or an earlier run)
        rows = [_pending_row(event_id, name, now) for name in names]
        connection.execute(delivery_outbox.insert(), rows)
        return event_id

    def claim(
        self, holder: str, destinations: Iterable[str], limit: int, lease_seconds: float
    ) -> list[Claimed]:
        """Take up to `limit` due rows for `destinations` for `lease_seconds`, counting a try on each."""
        now, table = self.clock(), delivery_outbox
        due = (
            (table.c.state == PENDING)
            & (table.c.next_attempt_at <= now)
            & table.c.destination.in_(list(destinations))
            & (table.c.lease_until.is_(None) | (table.c.lease_until < now))
        )
        picked = (
            sa.select(table.c.seq)
            .where(due)
            .order_by(table.c.next_attempt_at, table.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            table.update()
            .where(table.c.seq.in_(picked.scalar_subquery()) & due)
            .values(lease_holder=holder, lease_until=now + lease_seconds, attempts=table.c.attempts + 1)
            .returning(table.c.seq)
        )
        with self.engine.begin() as connection:
            seqs = list(connection.execute(claim).scalars())
            return self._claimed(connection, seqs)

    @staticmethod
    def _claimed(connection: sa.Connection, seqs: list[int]) -> list[Claimed]:
        if not seqs:
            return []
        events, table = delivery_events, delivery_outbox
        query = (
            sa.select(
                table.c.seq, table.c.event_id, table.c.destination, table.c.attempts,
                events.c.kind, events.c.subject_id, events.c.payload, events.c.created_at,
            )
            .join(events, events.c.event_id == table.c.event_id)
            .where(table.c.seq.in_(seqs))
            .order_by(table.c.seq)
        )  # fmt: skip
        return [Claimed(**row._asdict()) for row in connection.execute(query)]

    def delivered(self, item: Claimed, holder: str, status: int) -> bool:
        """Record a 2xx; False when the lease was no longer `holder`'s."""
        return self._finish(item, holder, state=DELIVERED, last_status=status, last_error=None)

    def dead(self, item: Claimed, holder: str, status: int | None, error: str | None) -> bool:
        """Keep the row as a dead letter: refused for good, or its last try failed."""
        return self._finish(item, holder, state=DEAD, last_status=status, last_error=_short(error))

    def retry_at(
        self, item: Claimed, holder: str, when: float, status: int | None, error: str | None
    ) -> bool:
        """Try the row again at `when`."""
        values = {"next_attempt_at": when, "last_status": status, "last_error": _short(error)}
        return self._update_held(item, holder, values)

    def _finish(self, item: Claimed, holder: str, **values: Any) -> bool:
        return self._update_held(item, holder, {**values, "finished_at": self.clock()})

    def _update_held(self, item: Claimed, holder: str, values: dict[str, Any]) -> bool:
        table = delivery_outbox
        statement = (
            table.update()
            .where((table.c.seq == item.seq) & (table.c.lease_holder == holder) & (table.c.state == PENDING))
            .values(**values, lease_holder=None, lease_until=None)
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def requeue_dead(self, event_ids: Iterable[str] | None = None) -> int:
        """Dead letters back to pending, due now with their tries reset (all, or those of
        `event_ids`); how many."""
        table = delivery_outbox
        where = table.c.state == DEAD
        if event_ids is not None:
            where = where & table.c.event_id.in_(list(event_ids))
        values = {"state": PENDING, "attempts": 0, "next_attempt_at": self.clock(), "finished_at": None}
        with self.engine.begin() as connection:
            return int(connection.execute(table.update().where(where).values(**values)).rowcount)

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        events, table = delivery_events, delivery_outbox
        query = (
            sa.select(
                table.c.event_id, table.c.destination, events.c.kind, events.c.subject_id,
                table.c.attempts, table.c.last_status, table.c.last_error, table.c.finished_at,
            )
            .join(events, events.c.event_id == table.c.event_id)
            .where(table.c.state == DEAD)
            .order_by(table.c.seq)
            .limit(limit)
        )  # fmt: skip
        with self.engine.connect() as connection:
            return [DeadLetter(**row._asdict()) for row in connection.execute(query)]

    def counts(self) -> dict[str, int]:
        """Rows by state."""
        table = delivery_outbox
        query = sa.select(table.c.state, sa.func.count()).group_by(table.c.state)
        with self.engine.connect() as connection:
            found = {str(state): int(n) for state, n in connection.execute(query)}
        return {state: found.get(state, 0) for state in (PENDING, DELIVERED, DEAD)}

    def next_due(self, destinations: Iterable[str]) -> float | None:
        """When the earliest pending row for `destinations` is due (None: nothing pending)."""
        table = delivery_outbox
        query = sa.select(sa.func.min(sa.func.coalesce(table.c.lease_until, table.c.next_attempt_at))).where(
            (table.c.state == PENDING) & table.c.destination.in_(list(destinations))
        )
        with self.engine.connect() as connection:
            value = connection.execute(query).scalar()
        return None if value is None else float(value)


def _pending_row(event_id: str, destination: str, now: float) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "destination": destination,
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _short(error: str | None) -> str | None:
    return None if error is None else error[:MAX_ERROR_CHARS]
