"""The durable store, the same suite on SQLite and on a real PostgreSQL: revocations, the cursor every
instance follows, restarts, schema versions and where the store lives."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr

from aai_mcp.state.engines import StoreConfigError, default_data_dir, store_location
from aai_mcp.state.store import Store
from aai_mcp.state.store_migrations import SchemaMismatch, head_version
from aai_mcp.state.store_schema import include_name, include_object, metadata, revoked_tokens
from aai_mcp.state.store_sql import SqlStore, open_store
from tests.support import postgres
from tests.support.postgres import PostgresServer
from tests.support.stores import StoreConfig


def test_a_new_store_is_at_the_newest_schema(store: SqlStore) -> None:
    assert store.schema_version() == head_version()
    as_interface: Store = store  # mypy: the implementation satisfies the interface the domain uses
    assert as_interface.engine_name in ("sqlite", "postgresql")


def test_revoking_twice_records_once(store: SqlStore) -> None:
    assert store.revoke_token("tok_aaaaaaaaaaaa", reason="leaked in a log", expires_at=2e9)
    assert not store.revoke_token("tok_aaaaaaaaaaaa")
    assert store.is_revoked("tok_aaaaaaaaaaaa")
    assert not store.is_revoked("tok_bbbbbbbbbbbb")
    assert store.revoked_since(0).ids == {"tok_aaaaaaaaaaaa"}


def test_the_cursor_returns_only_what_is_new(store: SqlStore) -> None:
    empty = store.revoked_since(0)
    assert empty.ids == frozenset()
    store.revoke_token("tok_first0000000")
    first = store.revoked_since(empty.cursor)
    assert first.ids == {"tok_first0000000"} and first.cursor > empty.cursor
    assert store.revoked_since(first.cursor).ids == frozenset()
    assert store.revoked_since(first.cursor).cursor == first.cursor
    store.revoke_token("tok_second000000")
    store.revoke_token("tok_first0000000")  # already revoked: nothing new for the followers
    second = store.revoked_since(first.cursor)
    assert second.ids == {"tok_second000000"}
    assert store.revoked_since(0).ids == {"tok_first0000000", "tok_second000000"}


def test_a_follower_misses_no_revocation_made_concurrently(store: SqlStore) -> None:
    """Writers in several threads, one follower reading through the cursor all along: the follower
    ends with every id (commit order must match cursor order for that)."""
    writers, per_writer = 4, 15
    expected = {f"tok_w{w}n{n:02d}aaaaaaa" for w in range(writers) for n in range(per_writer)}

    def write(w: int) -> None:
        for n in range(per_writer):
            assert store.revoke_token(f"tok_w{w}n{n:02d}aaaaaaa")

    seen: set[str] = set()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    cursor, reads = 0, 0
    while any(thread.is_alive() for thread in threads):
        batch = store.revoked_since(cursor)
        seen, cursor, reads = seen | batch.ids, batch.cursor, reads + 1
    for thread in threads:
        thread.join()
    seen |= store.revoked_since(cursor).ids  # what was committed after the loop's last read
    assert seen == expected


def test_a_restart_loses_no_revocation(store_config: StoreConfig) -> None:
    first = store_config.open(auto_upgrade=True)
    first.revoke_token("tok_survivor0000", reason="restart test")
    cursor = first.revoked_since(0).cursor
    first.close()
    reopened = store_config.open()  # as `serve` opens it: no upgrade asked for
    try:
        assert reopened.is_revoked("tok_survivor0000")
        assert reopened.revoked_since(0).ids == {"tok_survivor0000"}
        assert reopened.revoked_since(cursor).ids == frozenset()
    finally:
        reopened.close()


def test_the_migrations_create_exactly_the_tables_the_queries_use(store: SqlStore) -> None:
    with store.engine.connect() as connection:
        opts = {"include_name": include_name, "include_object": include_object}
        differences = compare_metadata(MigrationContext.configure(connection, opts=opts), metadata)
    assert differences == []


def test_sqlite_is_upgraded_at_open_postgresql_only_on_request(store_config: StoreConfig) -> None:
    if store_config.database_url is None:
        opened = store_config.open()
        assert opened.schema_version() == head_version()
        opened.close()
        return
    with pytest.raises(SchemaMismatch, match="run `aai-mcp db upgrade`"):
        store_config.open()
    store_config.open(auto_upgrade=True).close()
    store_config.open().close()


def test_a_schema_newer_than_this_release_is_refused(store: SqlStore, store_config: StoreConfig) -> None:
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaMismatch, match="newer than this aai-mcp knows"):
        store_config.open(auto_upgrade=True)


def test_sqlite_runs_in_wal_mode_in_a_private_directory(tmp_path: Path) -> None:
    opened = open_store(tmp_path / "new" / "dir", None, {})
    try:
        with opened.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert opened.shown == str(tmp_path / "new" / "dir" / "aai-mcp.db")
        assert stat.S_IMODE(os.stat(tmp_path / "new" / "dir").st_mode) == 0o700
    finally:
        opened.close()


def test_the_default_data_directory_follows_xdg(tmp_path: Path) -> None:
    assert default_data_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "aai-mcp"
    home = {"HOME": str(tmp_path / "home")}
    assert default_data_dir({**home, "XDG_DATA_HOME": "relative"}) == tmp_path / "home/.local/share/aai-mcp"
    assert default_data_dir(home) == tmp_path / "home/.local/share/aai-mcp"
    assert default_data_dir({}) == Path.home() / ".local/share/aai-mcp"
    location = store_location(None, None, {"XDG_DATA_HOME": str(tmp_path)})
    assert location.sqlite_path == tmp_path / "aai-mcp" / "aai-mcp.db"


def test_a_database_url_is_never_shown_with_its_password(postgres_server: PostgresServer) -> None:
    url = postgres_server.url()
    opened = open_store(None, SecretStr(url), {}, auto_upgrade=True)
    try:
        assert postgres_server.password not in opened.shown
        assert opened.shown.startswith("postgresql+psycopg://aai:***@127.0.0.1:")
    finally:
        opened.close()
    in_query = store_location(None, SecretStr("postgresql://h/db?password=hunter2&sslmode=require"), {})
    assert "hunter2" not in in_query.shown and "sslmode=require" in in_query.shown


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2@db/x", "sqlite:////tmp/hunter2.db", "://hunter2", "not a url hunter2"]
)
def test_an_unusable_database_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(StoreConfigError) as caught:
        store_location(None, SecretStr(url), {})
    assert "hunter2" not in str(caught.value)


def test_a_token_id_must_fit(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="1 to 64"):
        store.revoke_token("t" * 65)
    with pytest.raises(ValueError, match="1 to 64"):
        store.revoke_token("")


def test_without_postgresql_the_store_tests_fail_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres, "pg_bin_dir", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y --no-install-recommends postgresql"):
        postgres.start_postgres()


def test_a_second_writer_waits_for_the_first_to_commit(store: SqlStore) -> None:
    """Commit order = cursor order: a revocation that took its seq first but commits later would
    otherwise be skipped by a follower that already read the higher seq of a faster writer."""
    cursor = store.revoked_since(0).cursor
    with store.engine.connect() as first:
        transaction = first.begin()
        store._serialize_writers(first)  # what revoke_token does first, held open here
        first.execute(revoked_tokens.insert().values(token_id="tok_slowwriter00", revoked_at=0.0))
        second = threading.Thread(target=store.revoke_token, args=("tok_fastwriter00",))
        second.start()
        second.join(timeout=0.5)  # it never ends while the first holds the lock; 0.5 s shows it waits
        assert second.is_alive(), "a second writer committed while the first was still open"
        assert store.revoked_since(cursor).ids == frozenset()
        transaction.commit()
    second.join(timeout=30)
    assert not second.is_alive()
    assert store.revoked_since(cursor).ids == {"tok_slowwriter00", "tok_fastwriter00"}
