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
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from aai_mcp.state.engines import StoreLocation

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
# Alembic itself costs ~10 MB of memory for as long as the server runs: it is imported only to
# upgrade. Whether a database is current is read from the version table and the migration files.
_REVISION = re.compile(r'^(revision|down_revision)\s*=\s*(?:"([^"]*)"|None)\s*$', re.MULTILINE)
# Any constant: every instance that upgrades a PostgreSQL database takes this lock first.
_PG_UPGRADE_LOCK = 0x6161_692D_6D63_70
logger = logging.getLogger(__name__)


class SchemaMismatch(RuntimeError):
    """The database is at a schema version this aai-mcp cannot use as it is."""


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def _revisions() -> dict[str, str | None]:
    """Each migration file's revision and the one it follows (the same lines Alembic reads)."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("v*.py")):
        fields = {name: value or None for name, value in _REVISION.findall(path.read_text("utf-8"))}
        revision = fields.get("revision")
        assert revision is not None, f"{path.name} names no revision"
        revisions[revision] = fields.get("down_revision")
    return revisions


@functools.cache
def head_version() -> str:
    """The newest schema version this aai-mcp knows: the one no other migration follows."""
    revisions = _revisions()
    heads = set(revisions) - {down for down in revisions.values() if down is not None}
    assert len(heads) == 1, f"the store's migrations must form one line, not heads {sorted(heads)}"
    return heads.pop()


@functools.cache
def known_versions() -> frozenset[str]:
    return frozenset(_revisions())


def current_version(engine: sa.Engine) -> str | None:
    """The database's schema version; None for a database no migration has touched yet."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise SchemaMismatch(f"the database records several schema versions ({sorted(rows)})")
    return rows[0] if rows else None


def upgrade(engine: sa.Engine, location: StoreLocation) -> tuple[str | None, str]:
    """Bring the schema to the newest version; (version before, version after)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

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
