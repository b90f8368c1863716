"""Named leases in the store: at most one holder per name, until an expiry the holder renews while it
works. A row rather than a PostgreSQL advisory lock so SQLite (one host, several processes: cron, a
shell) gets the same rule, and a crashed holder's lease simply lapses instead of needing its session
to die.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from aai_mcp.state.store_schema import store_leases


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a lease and until when (epoch seconds)."""

    holder: str
    expires_at: float


class StoreLeases:
    """Claim, renew and release leases on one engine (the platform store's)."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def claim(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take `name` for `holder` for `ttl_seconds` when it is free, lapsed or already `holder`'s
        (a renewal); False when someone else holds it. One statement, so two claimants never both win:
        PostgreSQL's ON CONFLICT takes the row lock, SQLite serializes writers."""
        now = self.clock()
        values = {"name": name, "holder": holder, "expires_at": now + ttl_seconds}
        insert = (sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert)(store_leases)
        statement = insert.values(**values).on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": holder, "expires_at": values["expires_at"]},
            where=(store_leases.c.expires_at < now) | (store_leases.c.holder == holder),
        )
        # RETURNING, not rowcount: a row comes back only when inserted or updated, on both engines.
        with self.engine.begin() as connection:
            return connection.execute(statement.returning(store_leases.c.name)).first() is not None

    def release(self, name: str, holder: str) -> None:
        """Give `name` up when `holder` still holds it."""
        table = store_leases
        with self.engine.begin() as connection:
            connection.execute(table.delete().where((table.c.name == name) & (table.c.holder == holder)))

    def holder(self, name: str) -> LeaseHolder | None:
        """Who holds `name` now (a lapsed lease is nobody's)."""
        query = sa.select(store_leases.c.holder, store_leases.c.expires_at).where(
            (store_leases.c.name == name) & (store_leases.c.expires_at >= self.clock())
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else LeaseHolder(row.holder, row.expires_at)
