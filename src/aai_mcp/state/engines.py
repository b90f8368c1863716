"""Where the durable store lives and how to connect to it: a SQLite file under the data directory by
default, PostgreSQL when a database URL is given.

A database URL may carry a password, so it is a secret: only `StoreLocation.shown` (password and
password-like query parameters replaced by ***) is ever printed or logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

DATABASE_FILE = "aai-mcp.db"
# Accepted spellings of a PostgreSQL URL, all driven by psycopg 3 (the one PostgreSQL driver installed).
_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
_SECRET_QUERY_KEYS = {"password", "passfile", "sslpassword", "sslkey"}
# A silent network (a database host gone without a reset) fails a connection within ~10 s instead of
# hanging a refresh, and with it a shutdown, for the kernel's default of many minutes.
_POSTGRES_TIMEOUTS = {
    "connect_timeout": 5,
    "tcp_user_timeout": 10_000,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 2,
}
# A writer waits this long for another process's write lock (the CLI revoking while serve refreshes).
SQLITE_BUSY_MS = 10_000


class StoreConfigError(ValueError):
    """The database URL or the data directory cannot be used; the message never holds the password."""


@dataclass(frozen=True)
class StoreLocation:
    """The engine kind, the URL to connect to (secret) and how to show it."""

    engine: str  # "sqlite" or "postgresql"
    url: URL
    shown: str
    sqlite_path: Path | None = None


def default_data_dir(env: Mapping[str, str]) -> Path:
    """$XDG_DATA_HOME/aai-mcp, else ~/.local/share/aai-mcp (the XDG default); `env` is read, not
    os.environ, so a CLI run with a given environment finds the same place as the server."""
    base = env.get("XDG_DATA_HOME") or ""
    home = Path(env["HOME"]) if os.path.isabs(env.get("HOME") or "") else Path.home()
    root = Path(base) if os.path.isabs(base) else home / ".local" / "share"
    return root / "aai-mcp"


def store_location(
    data_dir: Path | None, database_url: SecretStr | None, env: Mapping[str, str]
) -> StoreLocation:
    """PostgreSQL when `database_url` is set, else the SQLite file in `data_dir` (or the default)."""
    if database_url is not None and database_url.get_secret_value().strip():
        return _postgres_location(database_url.get_secret_value().strip())
    path = (data_dir or default_data_dir(env)).expanduser() / DATABASE_FILE
    return StoreLocation("sqlite", URL.create("sqlite+pysqlite", database=str(path)), str(path), path)


def _postgres_location(raw: str) -> StoreLocation:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise StoreConfigError("the database URL is not a URL: postgresql://USER:PASS@HOST/NAME") from None
    if url.drivername not in _POSTGRES_SCHEMES:
        raise StoreConfigError(
            f"the database URL must start with postgresql:// (not {url.drivername}://); "
            "SQLite needs no URL: it is the default, under the data directory"
        )
    url = url.set(drivername="postgresql+psycopg")
    return StoreLocation("postgresql", url, redacted(url))


def redacted(url: URL) -> str:
    """The URL with its password and any password-like query parameter replaced by ***."""
    query = {key: ("***" if key.lower() in _SECRET_QUERY_KEYS else value) for key, value in url.query.items()}
    return url.set(query=query).render_as_string(hide_password=True)


def create_engine(location: StoreLocation) -> sa.Engine:
    """A synchronous engine; SQLite files get their directory (0700), WAL mode and a busy timeout."""
    if location.sqlite_path is None:
        # pool_pre_ping: a connection dropped by a PostgreSQL restart is replaced, not handed out.
        return sa.create_engine(
            location.url, pool_pre_ping=True, connect_args=_POSTGRES_TIMEOUTS, **_JSON_CODEC
        )
    _make_data_dir(location.sqlite_path.parent)
    engine = sa.create_engine(location.url, connect_args={"timeout": SQLITE_BUSY_MS / 1000}, **_JSON_CODEC)
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _orjson_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# JSON columns (the archive's words and utterances: ~30 KB a transcript) through orjson: the stdlib
# encoder was half of a backfill's CPU time.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _orjson_text, "json_deserializer": orjson.loads}


def _make_data_dir(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreConfigError(
            f"cannot create the data directory {directory}: {exc.strerror or exc}; "
            "set --data-dir / AAI_MCP_DATA_DIR to a writable directory"
        ) from None


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL: readers (every instance's refresh) never block the writer (`token revoke`), and the
    # reverse; NORMAL sync is durable in WAL mode except for the last commits on a power loss.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
