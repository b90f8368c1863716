"""The issued-token records (issue 15 part 7) on SQLite and PostgreSQL: what `token mint` and the admin
API record, last use written at most once a minute, pruning (by `token prune` and on serve's schedule),
and `aai-mcp token list` showing what GET /admin/v1/tokens shows."""

from __future__ import annotations

import json
import time

import anyio
import pytest

from aai_mcp.access.issuing import pruning
from aai_mcp.access.last_used import LastUsed
from aai_mcp.access.scopes import Scopes
from aai_mcp.access.tokens import mint
from aai_mcp.cli.main import load_command
from aai_mcp.cli.token import run_token_command
from aai_mcp.gateway import load_default_catalog
from aai_mcp.state.issued_tokens import IssuedTokens
from aai_mcp.state.store_sql import SqlStore
from tests.support.stores import StoreConfig

CATALOG = load_default_catalog()
SECRET = b"issued-tokens-secret-0123456789abcdef"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_records_are_listed_newest_first_without_expired_ones(store: SqlStore) -> None:
    clock = Clock(1_000_000.0)
    records = IssuedTokens(store.engine, clock)
    old = mint(SECRET, name="old", scopes=Scopes(), expires_at=1_000_100, issued_at=999_000)
    new = mint(SECRET, name="new", scopes=Scopes(read_only=True), expires_at=None, issued_at=999_500,
               account="team-a", require_header=True)  # fmt: skip
    records.record(old.claims, "cli:ops")
    records.record(new.claims, "admin-api:tok_aaaaaaaaaaaa")
    assert [r.name for r in records.listed()] == ["new", "old"]
    shown = records.listed()[0]
    assert (shown.account, shown.header_required, shown.expires_at, shown.creator) == (
        "team-a", True, None, "admin-api:tok_aaaaaaaaaaaa"
    )  # fmt: skip
    assert shown.scopes == Scopes(read_only=True) and shown.as_json(clock.now)["state"] == "active"
    clock.now = 1_000_100.0
    assert [r.name for r in records.listed()] == ["new"]
    assert [r.name for r in records.listed(include_expired=True)] == ["new", "old"]
    old_record = records.get(old.jti)
    assert old_record is not None and old_record.state(clock.now) == "expired"
    assert records.prune() == 1 and records.get(old.jti) is None and records.prune() == 0
    assert records.mark_revoked(new.jti) and not records.mark_revoked(new.jti)
    assert records.listed()[0].as_json(clock.now)["state"] == "revoked"


def test_last_use_is_written_at_most_once_a_minute(store: SqlStore) -> None:
    records = IssuedTokens(store.engine)
    token = mint(SECRET, name="busy", scopes=Scopes(), expires_at=None, issued_at=100)
    records.record(token.claims, "cli")
    records.mark_used([token.jti], 1000.0)
    records.mark_used([token.jti], 1030.0)  # another instance, within the minute: no write
    assert records.get(token.jti).last_used_at == 1000.0  # type: ignore[union-attr]
    records.mark_used([token.jti, "tok_unknownaaaaa"], 1061.0)
    assert records.get(token.jti).last_used_at == 1061.0  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_a_request_notes_use_in_memory_and_a_flush_writes_it(store: SqlStore) -> None:
    records = IssuedTokens(store.engine)
    token = mint(SECRET, name="busy", scopes=Scopes(), expires_at=None, issued_at=100)
    records.record(token.claims, "cli")
    clock = Clock(5000.0)
    last_used = LastUsed(records, clock=clock)
    last_used.note(token.jti)
    assert records.get(token.jti).last_used_at is None  # type: ignore[union-attr]
    await last_used.flush()
    assert records.get(token.jti).last_used_at == 5000.0  # type: ignore[union-attr]
    clock.now = 5030.0
    last_used.note(token.jti)  # within the minute: nothing pending
    assert last_used._pending == {}
    clock.now = 5061.0
    last_used.note(token.jti)
    await last_used.flush()
    assert records.get(token.jti).last_used_at == 5061.0  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_serve_prunes_expired_records_on_its_schedule(store: SqlStore) -> None:
    records = IssuedTokens(store.engine)
    now = time.time()
    expired = mint(SECRET, name="gone", scopes=Scopes(), expires_at=now - 50, issued_at=now - 100)
    kept = mint(SECRET, name="kept", scopes=Scopes(), expires_at=now + 3600, issued_at=now - 100)
    for token in (expired, kept):
        records.record(token.claims, "cli")
    with anyio.fail_after(30):
        async with pruning(records, every_seconds=0.01):
            while records.get(expired.jti) is not None:
                await anyio.sleep(0.01)
    assert records.get(kept.jti) is not None


def cli(store_config: StoreConfig, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    store_config.open(auto_upgrade=True).close()  # `aai-mcp db upgrade`, as PostgreSQL needs once
    env = {"AAI_MCP_TOKEN_SECRETS": SECRET.decode(), **store_config.env()}
    code = run_token_command(load_command(["token", *argv], env), catalog=CATALOG)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_mint_records_and_list_shows_the_same_as_the_api(
    store_config: StoreConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(store_config, "mint", "--name", "provisioner", "--admin", capsys=capsys)
    assert (code, err) == (0, "") and "admin:     yes (bearer only)" in out and "Not recorded" not in out
    code, out, _ = cli(store_config, "mint", "--name", "ci", "--toolsets", "transcripts", capsys=capsys)
    assert code == 0
    code, table, _ = cli(store_config, "list", capsys=capsys)
    assert code == 0 and table.splitlines()[0].split()[:3] == ["ID", "NAME", "STATE"]
    assert "provisioner" in table and "ci" in table and "aai1." not in table
    code, raw, _ = cli(store_config, "list", "--json", capsys=capsys)
    listed = json.loads(raw)["tokens"]
    store = store_config.open()
    try:
        expected = [record.as_json(time.time()) for record in IssuedTokens(store.engine).listed()]
    finally:
        store.close()
    # Newest first by the tokens' issue time, in whole seconds: two minted within one second tie.
    assert listed == expected and sorted(t["name"] for t in listed) == ["ci", "provisioner"]
    by_name = {t["name"]: t for t in listed}
    assert by_name["provisioner"]["scopes"] == {"tools": [], "read_only": False, "admin": True}
    assert by_name["ci"]["creator"].startswith("cli") and by_name["ci"]["last_used_at"] is None


def test_admin_mint_refuses_other_scopes(
    store_config: StoreConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(store_config, "mint", "--name", "x", "--admin", "--proxy", capsys=capsys)
    assert code == 2 and "--admin allows the admin API only" in err


def test_prune_deletes_expired_records(store_config: StoreConfig, capsys: pytest.CaptureFixture[str]) -> None:
    store = store_config.open(auto_upgrade=True)
    try:
        records = IssuedTokens(store.engine)
        now = time.time()
        gone = mint(SECRET, name="gone", scopes=Scopes(), expires_at=now - 50, issued_at=now - 100)
        records.record(gone.claims, "cli")
        assert records.listed(include_expired=True) and not records.listed()
    finally:
        store.close()
    code, out, _ = cli(store_config, "prune", capsys=capsys)
    assert code == 0 and out.strip() == "pruned 1 expired token record(s), 0 revocation(s) of expired tokens"
    code, out, _ = cli(store_config, "list", "--all", capsys=capsys)
    assert code == 0 and "gone" not in out


@pytest.mark.anyio
async def test_use_noted_just_before_a_stop_is_written(store: SqlStore) -> None:
    records = IssuedTokens(store.engine)
    token = mint(SECRET, name="last call", scopes=Scopes(), expires_at=None, issued_at=100)
    records.record(token.claims, "cli")
    last_used = LastUsed(records, flush_seconds=3600)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(last_used.follow)
        last_used.note(token.jti)
        tasks.cancel_scope.cancel()
    assert records.get(token.jti).last_used_at is not None  # type: ignore[union-attr]


def test_revocations_of_long_expired_tokens_are_pruned_and_followers_keep_their_place(
    store: SqlStore,
) -> None:
    clock = Clock(1_000_000.0)
    records = IssuedTokens(store.engine, clock)
    store.revoke_token("tok_longgoneaaaa", expires_at=clock.now - 3601)
    store.revoke_token("tok_justgoneaaaa", expires_at=clock.now - 10)  # a slow clock may still accept it
    store.revoke_token("tok_noexpiryaaaa")  # expiry unknown: kept for good
    cursor = store.revoked_since(0).cursor
    assert records.prune_revocations() == 1 and records.prune_revocations() == 0
    assert not store.is_revoked("tok_longgoneaaaa")
    assert store.is_revoked("tok_justgoneaaaa") and store.is_revoked("tok_noexpiryaaaa")
    store.revoke_token("tok_afterpruneaa", expires_at=clock.now + 60)
    assert store.revoked_since(cursor).ids == frozenset({"tok_afterpruneaa"})  # no seq reused
    assert store.revoked_since(0).ids == frozenset(
        {"tok_justgoneaaaa", "tok_noexpiryaaaa", "tok_afterpruneaa"}
    )
