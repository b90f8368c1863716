"""The durable store on every engine: tests that take `store_config` or `store` run once on SQLite
and once on a real PostgreSQL (tests/support/postgres.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from aai_mcp.state.store_sql import SqlStore, open_store

# PostgreSQL is a real server on a socket: its cases are end-to-end (left out of `pytest --unit`).
ENGINES = ("sqlite", pytest.param("postgresql", marks=pytest.mark.slow))


@dataclass(frozen=True)
class StoreConfig:
    """What an operator configures: a data directory, or a database URL (which wins)."""

    data_dir: Path
    database_url: SecretStr | None

    @property
    def engine(self) -> str:
        return "sqlite" if self.database_url is None else "postgresql"

    def password(self) -> str:
        """The database password (PostgreSQL), to check that no output shows it."""
        assert self.database_url is not None
        password = make_url(self.database_url.get_secret_value()).password
        assert password
        return str(password)

    def env(self) -> dict[str, str]:
        """The same, as the environment variables of a CLI or server process."""
        env = {"AAI_MCP_DATA_DIR": str(self.data_dir)}
        if self.database_url is not None:
            env["AAI_MCP_DATABASE_URL"] = self.database_url.get_secret_value()
        return env

    def open(self, *, auto_upgrade: bool | None = None) -> SqlStore:
        return open_store(self.data_dir, self.database_url, os.environ, auto_upgrade=auto_upgrade)


@pytest.fixture(params=ENGINES)
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> StoreConfig:
    """An empty store's configuration, for each engine (PostgreSQL: a fresh database)."""
    if request.param == "sqlite":
        return StoreConfig(tmp_path / "data", None)
    server = request.getfixturevalue("postgres_server")
    return StoreConfig(tmp_path / "data", SecretStr(server.new_database()))


@pytest.fixture
def store(store_config: StoreConfig) -> Iterator[SqlStore]:
    """An open store, upgraded to the newest schema, on each engine."""
    opened = store_config.open(auto_upgrade=True)
    try:
        yield opened
    finally:
        opened.close()
