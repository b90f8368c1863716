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
from aai_mcp.state.store import KeyState, RevokedSince
from aai_mcp.state.store_migrations import current_version, ensure_current
from aai_mcp.state.store_schema import resource_keys, revoked_tokens, upstream_keys
from aai_mcp.state.usage_sql import UsageSql

MAX_TOKEN_ID = 64
MAX_REASON = 500
MAX_KEY_NAME = 200
MAX_RESOURCE_ID = 500


class SqlStore(UsageSql):
    """The durable store on one SQLAlchemy engine (see Store, KeyPoolStore and UsageStore for what
    each method means)."""

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

    def key_states(self) -> dict[str, KeyState]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(upstream_keys)).all()
        return {row.key_name: KeyState(row.key_name, row.cooling_until, row.disabled_reason) for row in rows}

    def cool_key(self, name: str, until: float) -> None:
        column = upstream_keys.c.cooling_until
        longer = sa.or_(column.is_(None), column < until)
        self._set_key_state(name, {"cooling_until": until}, longer)

    def disable_key(self, name: str, reason: str) -> None:
        values = {"disabled_at": time.time(), "disabled_reason": reason[:MAX_KEY_NAME]}
        self._set_key_state(name, values, upstream_keys.c.disabled_reason.is_(None))

    def enable_key(self, name: str) -> bool:
        with self.engine.begin() as connection:
            found = connection.execute(upstream_keys.delete().where(upstream_keys.c.key_name == name))
        return found.rowcount > 0

    def _set_key_state(self, name: str, values: dict[str, object], when: sa.ColumnElement[bool]) -> None:
        _check_length("a key name", name, MAX_KEY_NAME)
        for _ in range(2):  # an insert racing another instance's insert retries as an update
            with self.engine.begin() as connection:
                query = upstream_keys.update().where(upstream_keys.c.key_name == name)
                if connection.execute(query.where(when).values(**values)).rowcount:
                    return
                if connection.execute(
                    sa.select(upstream_keys.c.key_name).where(upstream_keys.c.key_name == name)
                ).first():
                    return  # the state already holds (a longer cooldown, an earlier disablement)
                try:
                    connection.execute(upstream_keys.insert().values(key_name=name, **values))
                    return
                except IntegrityError:
                    continue

    def record_resource_key(self, resource_ids: list[str], name: str) -> None:
        _check_length("a key name", name, MAX_KEY_NAME)
        ids = list(dict.fromkeys(r for r in resource_ids if r and len(r) <= MAX_RESOURCE_ID))
        if not ids:
            return
        rows = [{"resource_id": r, "key_name": name, "recorded_at": time.time()} for r in ids]
        for attempt in range(2):  # another instance inserting the same id at once: once more
            try:
                with self.engine.begin() as connection:
                    connection.execute(resource_keys.delete().where(resource_keys.c.resource_id.in_(ids)))
                    connection.execute(resource_keys.insert(), rows)
                return
            except IntegrityError:
                if attempt:
                    raise

    def resource_key(self, resource_id: str) -> str | None:
        query = sa.select(resource_keys.c.key_name).where(resource_keys.c.resource_id == resource_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else str(row.key_name)

    def schema_version(self) -> str | None:
        return current_version(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def _check_length(what: str, value: str, most: int) -> None:
    if not value or len(value) > most:
        raise ValueError(f"{what} has 1 to {most} characters")


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
