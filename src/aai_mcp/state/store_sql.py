"""The store on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

A synchronous engine: the CLI and Alembic are synchronous, and a server touches the store only from
a background refresh twice a second (in a worker thread), so an async driver would buy nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError

from aai_mcp.state.engines import StoreLocation, create_engine, store_location
from aai_mcp.state.store import RevokedSince
from aai_mcp.state.store_migrations import current_version, ensure_current
from aai_mcp.state.store_schema import revoked_tokens

MAX_TOKEN_ID = 64
MAX_REASON = 500


class SqlStore:
    """The durable store on one SQLAlchemy engine (see Store for what each method means)."""

    def __init__(self, location: StoreLocation, engine: sa.Engine) -> None:
        self.location = location
        self.engine = engine

    @property
    def engine_name(self) -> str:
        return self.location.engine

    @property
    def shown(self) -> str:
        return self.location.shown

    def revoke_token(
        self, token_id: str, *, reason: str | None = None, expires_at: float | None = None
    ) -> bool:
        if not token_id or len(token_id) > MAX_TOKEN_ID:
            raise ValueError(f"a token id has 1 to {MAX_TOKEN_ID} characters")
        row = {
            "token_id": token_id,
            "reason": " ".join(reason.split())[:MAX_REASON] if reason else None,
            "revoked_at": time.time(),
            "expires_at": expires_at,
        }
        try:
            with self.engine.begin() as connection:
                self._serialize_writers(connection)
                connection.execute(revoked_tokens.insert().values(**row))
        except IntegrityError:
            return False  # the unique token_id: revoked before
        return True

    def _serialize_writers(self, connection: sa.Connection) -> None:
        # A reader's cursor skips any row committed after it read a higher seq. PostgreSQL hands out
        # seq at insert, not commit, so concurrent revocations could commit out of order: one writer
        # at a time keeps commit order = seq order (readers are not blocked). SQLite has one writer.
        if self.location.engine == "postgresql":
            connection.execute(sa.text("LOCK TABLE revoked_tokens IN SHARE ROW EXCLUSIVE MODE"))

    def revoked_since(self, cursor: int) -> RevokedSince:
        query = (
            sa.select(revoked_tokens.c.seq, revoked_tokens.c.token_id)
            .where(revoked_tokens.c.seq > cursor)
            .order_by(revoked_tokens.c.seq)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return RevokedSince(frozenset(row.token_id for row in rows), rows[-1].seq if rows else cursor)

    def is_revoked(self, token_id: str) -> bool:
        query = sa.select(revoked_tokens.c.seq).where(revoked_tokens.c.token_id == token_id)
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def schema_version(self) -> str | None:
        return current_version(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def open_store(
    data_dir: Path | None,
    database_url: SecretStr | None,
    env: Mapping[str, str],
    *,
    auto_upgrade: bool | None = None,
) -> SqlStore:
    """The store at the configured place, its schema checked (SchemaMismatch) and, by default for
    SQLite only, upgraded. StoreConfigError for an unusable URL or data directory."""
    location = store_location(data_dir, database_url, env)
    engine = create_engine(location)
    try:
        upgrade = location.engine == "sqlite" if auto_upgrade is None else auto_upgrade
        ensure_current(engine, location, upgrade)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(location, engine)
