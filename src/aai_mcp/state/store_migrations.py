"""Schema versions of the store (Alembic, migrations/versions/): which one a database is at, and
bringing it to the newest this aai-mcp knows.

SQLite is upgraded automatically when a server opens it (one file, one machine); PostgreSQL, shared
by every instance, only by `aai-mcp db upgrade`, so a rolling deploy migrates once, deliberately,
and an instance of the old release meeting a newer schema says so instead of guessing.
"""

from __future__ import annotations

import fcntl
import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from aai_mcp.state.engines import StoreLocation

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant: every instance that upgrades a PostgreSQL database takes this lock first.
_PG_UPGRADE_LOCK = 0x6161_692D_6D63_70
logger = logging.getLogger(__name__)


class SchemaMismatch(RuntimeError):
    """The database is at a schema version this aai-mcp cannot use as it is."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def head_version() -> str:
    """The newest schema version this aai-mcp knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the store has no migrations"
    return head


@functools.cache
def known_versions() -> frozenset[str]:
    return frozenset(script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions())


def current_version(engine: sa.Engine) -> str | None:
    """The database's schema version; None for a database no migration has touched yet."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine, location: StoreLocation) -> tuple[str | None, str]:
    """Bring the schema to the newest version; (version before, version after)."""
    with _upgrade_lock(location), engine.begin() as connection:
        if location.engine == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_UPGRADE_LOCK)))
        before = MigrationContext.configure(connection).get_current_revision()
        _check_known(before)
        config = _config()
        config.attributes["connection"] = connection
        # Alembic narrates its set-up at INFO on every run; one line of ours says what changed.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        command.upgrade(config, "head")
    after = head_version()
    if before != after:
        logger.info("store %s: schema upgraded from %s to %s", location.shown, before or "(empty)", after)
    return before, after


def ensure_current(engine: sa.Engine, location: StoreLocation, auto_upgrade: bool) -> str:
    """The schema version once it is the newest; SchemaMismatch when it is not and may not be upgraded."""
    version = current_version(engine)
    if version == head_version():
        return version
    _check_known(version)
    if not auto_upgrade:
        raise SchemaMismatch(
            f"the database is at schema version {version or '(empty)'}, this aai-mcp needs "
            f"{head_version()}: run `aai-mcp db upgrade` once (with the same AAI_MCP_DATABASE_URL)"
        )
    return upgrade(engine, location)[1]


def _check_known(version: str | None) -> None:
    if version is not None and version not in known_versions():
        raise SchemaMismatch(
            f"the database is at schema version {version}, newer than this aai-mcp knows "
            f"({head_version()}): a newer aai-mcp has upgraded it; run that release"
        )


@contextmanager
def _upgrade_lock(location: StoreLocation) -> Iterator[None]:
    """For SQLite, a file lock beside the database: two processes starting at once on a fresh
    data directory must not both create the tables."""
    if location.sqlite_path is None:
        yield
        return
    lock_path = location.sqlite_path.with_name(location.sqlite_path.name + ".lock")
    with lock_path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
