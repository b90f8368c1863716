"""Token revocation in the durable store, on SQLite and PostgreSQL: `aai-mcp token revoke` records it,
every instance refuses the token after its next refresh (twice a second), and an instance that
cannot read the store keeps the ids it knows, then refuses every token once they are too old."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from aai_mcp.access import Scopes, mint
from aai_mcp.access.principal import Authenticator, AuthFailure
from aai_mcp.access.revocation import RevocationUnavailable
from aai_mcp.access.revocation_feed import REFRESH_SECONDS, RevocationFeed
from aai_mcp.cli.main import load_command
from aai_mcp.cli.token import run_token_command
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import build_gateway, load_default_catalog
from aai_mcp.state.issued_tokens import IssuedTokens
from aai_mcp.state.store import RevokedSince, Store
from aai_mcp.state.store_schema import revoked_tokens
from aai_mcp.state.store_sql import SqlStore
from tests.support import make_settings
from tests.support.servers import serve_gateway_in_thread
from tests.support.stores import StoreConfig

SECRET = "store-signing-secret-0123456789abcdef"
CATALOG = load_default_catalog()
# Generous: the event the test waits for comes within a refresh (0.5 s) unless the machine stalls.
DEADLINE_SECONDS = 30.0


def token_settings(**overrides: Any) -> Settings:
    return make_settings(auth=["tokens"], token_secrets=SECRET, **overrides)


def authenticator_on(store: Store, settings: Settings | None = None) -> Authenticator:
    """As `serve` builds it: the settings checked first, then the store attached."""
    authenticator = Authenticator(settings or token_settings())
    authenticator.use_store(store)
    return authenticator


def new_token() -> Any:
    return mint(SECRET.encode(), name="store test", scopes=Scopes(), expires_at=None)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def refused_as(authenticator: Authenticator, token: str) -> str | None:
    try:
        authenticator.authenticate(bearer(token), None)
    except AuthFailure as exc:
        return exc.code
    return None


def revoke_with_cli(env: dict[str, str], target: str, *extra: str) -> int:
    return run_token_command(load_command(["token", "revoke", target, *extra], env), catalog=CATALOG)


@pytest.mark.anyio
async def test_every_instance_refuses_a_revoked_token_after_its_next_refresh(
    store_config: StoreConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    store_config.open(auto_upgrade=True).close()  # as `aai-mcp db upgrade` would (PostgreSQL)
    stores = [store_config.open(), store_config.open()]  # two instances, two connections
    instances = [authenticator_on(store) for store in stores]
    revoked, kept = new_token(), new_token()
    try:
        async with instances[0].following(), instances[1].following():
            assert [refused_as(each, revoked.token) for each in instances] == [None, None]
            started = time.monotonic()
            code = revoke_with_cli(store_config.env(), revoked.token, "--reason", "leaked in a chat")
            assert code == 0 and "revoked in the store" in capsys.readouterr().out
            with anyio.fail_after(DEADLINE_SECONDS):
                for each in instances:
                    assert each.feed is not None and each.feed.refresh_seconds <= REFRESH_SECONDS
                    await each.feed.refreshed()  # a refresh that began after the revocation
            latency = time.monotonic() - started
            assert [refused_as(each, revoked.token) for each in instances] == ["revoked", "revoked"]
            assert [refused_as(each, kept.token) for each in instances] == [None, None]
            print(f"revocation seen by both instances {latency:.3f} s after `token revoke` returned")
    finally:
        for store in stores:
            store.close()


def test_ids_revoked_before_start_are_refused_from_the_first_request(store: SqlStore) -> None:
    token = new_token()
    store.revoke_token(token.jti)
    assert refused_as(authenticator_on(store), token.token) == "revoked"


def test_the_file_and_the_store_both_revoke(store: SqlStore, tmp_path: Path) -> None:
    in_file, in_store, kept = new_token(), new_token(), new_token()
    revocations = tmp_path / "revoked.txt"
    revocations.write_text(f"{in_file.jti}\n")
    store.revoke_token(in_store.jti)
    authenticator = authenticator_on(store, token_settings(token_revocation_file=revocations))
    assert refused_as(authenticator, in_file.token) == "revoked"
    assert refused_as(authenticator, in_store.token) == "revoked"
    assert refused_as(authenticator, kept.token) is None


def test_without_tokens_mode_the_store_is_not_followed(store: SqlStore) -> None:
    assert authenticator_on(store, make_settings(auth=["passthrough-key"])).feed is None


def test_revoke_records_in_the_store_and_the_file_when_both_are_configured(
    store_config: StoreConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_config.open(auto_upgrade=True).close()  # as `aai-mcp db upgrade` would (PostgreSQL)
    token = new_token()
    revocations = tmp_path / "revoked.txt"
    code = revoke_with_cli(store_config.env(), token.token, "--revocation-file", str(revocations))
    out = capsys.readouterr().out
    assert code == 0 and f"revoked in {revocations}" in out and "revoked in the store" in out
    assert token.jti in revocations.read_text()
    reopened = store_config.open()
    try:
        assert reopened.is_revoked(token.jti)
        assert reopened.revoked_since(0).ids == {token.jti}
    finally:
        reopened.close()
    if store_config.database_url is not None:
        assert store_config.database_url.get_secret_value() not in out
        assert "***@" in out


def test_revoke_without_any_configuration_uses_the_default_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    env: dict[str, str] = {}
    assert revoke_with_cli(env, "tok_aaaaaaaaaaaa") == 0
    assert f"in the store {tmp_path / 'aai-mcp' / 'aai-mcp.db'}" in capsys.readouterr().out
    assert revoke_with_cli(env, "tok_aaaaaaaaaaaa") == 0
    assert "was already revoked in the store" in capsys.readouterr().out


class FlakyStore:
    """A store whose reads fail while `down` is set (a database restart, a network cut)."""

    engine_name = "postgresql"
    shown = "postgresql+psycopg://aai:***@db/aai"

    def __init__(self, ids: frozenset[str]) -> None:
        self.ids = ids
        self.down = False

    def revoked_since(self, cursor: int) -> RevokedSince:
        if self.down:
            raise OperationalError("SELECT", {}, Exception("connection refused\nDETAIL: more"))
        return RevokedSince(self.ids if cursor == 0 else frozenset(), 1)

    def revoke_token(self, token_id: str, **details: Any) -> bool:
        raise AssertionError("not used")

    def is_revoked(self, token_id: str) -> bool:
        raise AssertionError("not used")

    def schema_version(self) -> str | None:
        return "0001"

    def close(self) -> None:
        pass


def test_an_unreadable_store_keeps_the_known_ids_then_refuses_every_token() -> None:
    now = [100.0]
    store = FlakyStore(frozenset({"tok_revoked00000"}))
    feed = RevocationFeed(store, stale_after_seconds=10.0, clock=lambda: now[0])
    with pytest.raises(RevocationUnavailable, match="cannot check token revocations"):
        feed.contains("tok_other0000000")  # never read yet: nothing is known
    feed.refresh()
    assert "tok_revoked00000" in feed and "tok_other0000000" not in feed
    store.down = True
    now[0] += 5.0
    feed.refresh()  # fails, logged; the ids known 5 s ago still hold
    assert feed.problem() is None and "tok_revoked00000" in feed
    now[0] += 6.0
    assert feed.problem() == "the store could not be read for over 10 s (token revocations)"
    with pytest.raises(RevocationUnavailable):
        feed.contains("tok_other0000000")
    store.down = False
    feed.refresh()
    assert feed.problem() is None and "tok_other0000000" not in feed


def test_a_stale_store_is_a_503_and_a_health_problem() -> None:
    store = FlakyStore(frozenset())
    authenticator = authenticator_on(store)
    assert authenticator.feed is not None and authenticator.problem() is None
    store.down = True
    authenticator.feed.stale_after_seconds = -1.0  # the last good read is now too old, whenever it was
    authenticator.feed.refresh()
    assert authenticator.problem() == "the store could not be read for over -1 s (token revocations)"
    with pytest.raises(AuthFailure) as caught:
        authenticator.authenticate(bearer(new_token().token), None)
    assert (caught.value.status, caught.value.code) == (503, "revocation_unavailable")


def test_healthz_names_the_store_and_turns_503_when_it_is_stale(store: SqlStore) -> None:
    settings = token_settings(api_key=None, stateless=True)
    authenticator = authenticator_on(store, settings)
    with serve_gateway_in_thread(build_gateway(settings), authenticator) as base:
        healthy = httpx.get(f"{base}/healthz", headers=bearer(new_token().token), timeout=30)
        assert healthy.status_code == 200 and healthy.json()["store"] == store.engine_name
        assert authenticator.feed is not None
        authenticator.feed.stale_after_seconds = -1.0  # as if the store had not been read for too long
        stale = httpx.get(f"{base}/healthz", timeout=30)
        assert stale.status_code == 503
        assert stale.json() == {"status": "unavailable", "reason": authenticator.problem()}
        assert "the store could not be read" in stale.json()["reason"]


def test_inspect_reads_the_store_and_the_file(
    store_config: StoreConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_config.open(auto_upgrade=True).close()
    token = new_token()
    env = {**store_config.env(), "AAI_MCP_TOKEN_SECRETS": SECRET}

    def revoked_line(*extra: str) -> str:
        loaded = load_command(["token", "inspect", token.token, *extra], env)
        assert run_token_command(loaded, catalog=CATALOG) == 0
        (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("revoked:")]
        return line.removeprefix("revoked:").strip()

    opened = store_config.open()
    shown = opened.shown
    opened.close()
    assert revoked_line() == f"no (not in the store {shown})"
    empty = tmp_path / "revoked.txt"
    empty.write_text("")
    assert revoked_line("--revocation-file", str(empty)) == f"no (not in {empty}; not in the store {shown})"
    assert revoke_with_cli(env, token.jti) == 0
    capsys.readouterr()
    assert revoked_line("--revocation-file", str(empty)) == f"YES (in the store {shown})"
    if store_config.database_url is not None:
        assert store_config.password() not in shown


def test_inspect_creates_no_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"AAI_MCP_DATA_DIR": str(tmp_path / "data")}
    loaded = load_command(["token", "inspect", new_token().token, "--unverified"], env)
    assert run_token_command(loaded, catalog=CATALOG) == 0
    assert "revoked:   unknown (no --revocation-file" in capsys.readouterr().out
    assert not (tmp_path / "data").exists()


def with_claimed_expiry(token: str, exp: float) -> str:
    """A copy of `token` whose payload claims another expiry (its signature no longer matches)."""
    prefix, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    edited = base64.urlsafe_b64encode(json.dumps({**claims, "exp": int(exp)}).encode()).rstrip(b"=")
    return f"{prefix}.{edited.decode()}.{signature}"


def test_a_cli_revocation_keeps_only_an_expiry_signed_here(
    store_config: StoreConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """The expiry decides when a revocation is pruned, so an edited copy of a leaked token that
    claims an early one must not shorten its revocation."""
    store = store_config.open(auto_upgrade=True)
    try:
        year = time.time() + 365 * 86400
        genuine = mint(SECRET.encode(), name="genuine", scopes=Scopes(), expires_at=year)
        leaked = mint(SECRET.encode(), name="leaked", scopes=Scopes(), expires_at=year)
        env = {**store_config.env(), "AAI_MCP_TOKEN_SECRETS": SECRET}
        assert revoke_with_cli(env, genuine.token) == 0
        assert revoke_with_cli(env, with_claimed_expiry(leaked.token, time.time() - 86400)) == 0
        capsys.readouterr()
        with store.engine.connect() as connection:
            rows = dict(
                connection.execute(sa.select(revoked_tokens.c.token_id, revoked_tokens.c.expires_at)).all()
            )
        assert rows == {genuine.jti: genuine.claims.exp, leaked.jti: None}
        later = IssuedTokens(store.engine, lambda: time.time() + 2 * 86400)
        assert later.prune_revocations() == 0 and store.is_revoked(leaked.jti)
    finally:
        store.close()
