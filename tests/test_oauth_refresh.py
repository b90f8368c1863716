"""Token families in the OAuth provider (issue 15 part 5), on SQLite and PostgreSQL: the code exchange
starts a family with a refresh token kept only as its hash; each refresh rotates it and may only
narrow the scopes; a rotated token presented again (or the loser of two racing refreshes) revokes the
grant, its refresh tokens and its access tokens in revoked_tokens; refresh tokens expire; RFC 7009
revokes an access token alone or a refresh token's whole family; DCR secrets are stored hashed."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa
from mcp.server.auth.provider import TokenError
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from aai_mcp.access.oauth_provider import REFRESH_SECONDS, FamilyRefreshToken, StoreProvider
from aai_mcp.access.scopes import Scopes
from aai_mcp.access.tokens import check_signature
from aai_mcp.state.oauth_families import FamilyRevoked, Issued
from aai_mcp.state.oauth_store import Grant, OAuthRecords
from aai_mcp.state.store_schema import oauth_clients, oauth_grants, oauth_refresh_tokens
from aai_mcp.state.store_sql import SqlStore
from tests.test_oauth_provider import CONFIG, SECRET, Clock, params

pytestmark = pytest.mark.anyio


def refreshing_client() -> OAuthClientInformationFull:
    return OAuthClientInformationFull(
        client_id="client-1", client_name="Test client", redirect_uris=[AnyUrl("http://127.0.0.1:3000/callback")],
        token_endpoint_auth_method="none", grant_types=["authorization_code", "refresh_token"],
    )  # fmt: skip


async def consented(
    provider: StoreProvider, scopes: list[str], registered: OAuthClientInformationFull | None = None
) -> str:
    """A code for `scopes`, approved for `registered` (by default a client without the refresh grant)."""
    registered = registered or refreshing_client().model_copy(update={"grant_types": ["authorization_code"]})
    await provider.register_client(registered)
    consent_url = await provider.authorize(registered, params())
    pending = await provider.pending(consent_url.split("request=")[1])
    assert pending is not None
    redirect = await provider.approve(pending, scopes, "operator")
    assert redirect is not None
    return redirect.split("code=")[1].split("&")[0]


async def first_tokens(
    provider: StoreProvider, scopes: list[str]
) -> tuple[OAuthClientInformationFull, OAuthToken]:
    code = await consented(provider, scopes, refreshing_client())
    client = await provider.get_client("client-1")
    assert client is not None
    loaded = await provider.load_authorization_code(client, code)
    assert loaded is not None
    return client, await provider.exchange_authorization_code(client, loaded)


async def refresh(
    provider: StoreProvider, client: OAuthClientInformationFull, token: str, scopes: list[str] | None = None
) -> OAuthToken:
    loaded = await provider.load_refresh_token(client, token)
    if loaded is None:
        raise TokenError("invalid_grant", "refresh token does not exist")  # as the SDK's handler says
    return await provider.exchange_refresh_token(client, loaded, scopes or loaded.scopes)


def jti(token: OAuthToken) -> str:
    return check_signature(token.access_token, [SECRET]).jti


async def test_the_code_exchange_starts_a_family_with_a_hashed_refresh_token(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    _, tokens = await first_tokens(provider, ["mcp"])
    assert tokens.refresh_token and tokens.refresh_token != tokens.access_token
    assert len(tokens.refresh_token) >= 43  # 256 bits, URL-safe
    with store.engine.connect() as connection:
        stored = connection.execute(sa.select(oauth_refresh_tokens)).mappings().all()
    assert [row["token_hash"] for row in stored] == [
        hashlib.sha256(tokens.refresh_token.encode()).hexdigest()
    ]
    assert stored[0]["expires_at"] - stored[0]["issued_at"] == pytest.approx(REFRESH_SECONDS)


async def test_a_client_registered_without_the_refresh_grant_gets_no_refresh_token(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    code = await consented(provider, ["mcp"])  # grant_types: authorization_code only
    client = await provider.get_client("client-1")
    assert client is not None
    loaded = await provider.load_authorization_code(client, code)
    assert loaded is not None
    assert (await provider.exchange_authorization_code(client, loaded)).refresh_token is None


async def test_without_the_refresh_grant_the_access_token_still_joins_its_family(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    code = await consented(provider, ["mcp"])
    client = await provider.get_client("client-1")
    assert client is not None
    loaded = await provider.load_authorization_code(client, code)
    assert loaded is not None
    tokens = await provider.exchange_authorization_code(client, loaded)
    access = await provider.load_access_token(tokens.access_token)
    assert access is not None and access.client_id == "client-1"  # RFC 7009 may revoke it
    with store.engine.connect() as connection:
        grant = connection.execute(sa.select(oauth_grants)).mappings().one()
    assert provider.families.revoke_family(grant["grant_id"], "test")
    assert store.is_revoked(jti(tokens))
    # A family revoked under an exchange in flight: nothing more is issued from it.
    issued = Issued("tok_aaaaaaaaaaaa", 4e9, "unused")
    as_grant = Grant(grant["grant_id"], "client-1", "operator", ["mcp"], CONFIG.resource)
    with pytest.raises(FamilyRevoked):
        provider.families.start(as_grant, issued, 60.0)


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    client, first = await first_tokens(provider, ["mcp"])
    assert first.refresh_token is not None
    second = await refresh(provider, client, first.refresh_token)
    assert second.refresh_token not in (None, first.refresh_token)
    assert jti(second) != jti(first)
    assert second.refresh_token is not None
    third = await refresh(provider, client, second.refresh_token)  # the new one works
    assert third.refresh_token is not None
    assert not any(store.is_revoked(jti(t)) for t in (first, second, third))
    # The first token again: reuse. The family goes, whoever holds its newest tokens.
    assert await provider.load_refresh_token(client, first.refresh_token) is None
    assert all(store.is_revoked(jti(t)) for t in (first, second, third))
    assert await provider.load_refresh_token(client, third.refresh_token) is None
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(oauth_grants.c.revoked_at)).scalar_one() is not None
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(oauth_refresh_tokens)).scalar_one() == 0
        )


async def test_of_two_racing_refreshes_one_wins_and_the_family_is_revoked(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    client, first = await first_tokens(provider, ["mcp"])
    assert first.refresh_token is not None
    loaded = await provider.load_refresh_token(client, first.refresh_token)
    assert loaded is not None
    outcomes: list[str] = []

    async def use() -> None:
        assert loaded is not None
        try:
            await provider.exchange_refresh_token(client, loaded, loaded.scopes)
            outcomes.append("won")
        except TokenError as exc:
            outcomes.append(exc.error)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(use)
        tasks.start_soon(use)
    assert sorted(outcomes) == ["invalid_grant", "won"]
    assert store.is_revoked(jti(first))  # the loser saw a rotated token: reuse


async def test_scopes_on_refresh_only_narrow(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    client, first = await first_tokens(provider, ["toolset:audio", "toolset:transcription", "mcp:read-only"])
    assert first.refresh_token is not None
    # Leaving out mcp:read-only does not lift it: the new token is the intersection with the grant.
    narrower = await refresh(provider, client, first.refresh_token, ["toolset:audio"])
    claims = check_signature(narrower.access_token, [SECRET])
    assert claims.scopes == Scopes(toolsets=frozenset({"audio"}), read_only=True)
    assert narrower.scope == "toolset:audio"
    # The family keeps the grant's scopes: the next refresh may ask for all of them again.
    assert narrower.refresh_token is not None
    again = await refresh(provider, client, narrower.refresh_token)
    assert check_signature(again.access_token, [SECRET]).scopes.toolsets == frozenset(
        {"audio", "transcription"}
    )
    loaded = await provider.load_refresh_token(client, again.refresh_token or "")
    assert loaded is not None and loaded.scopes == ["toolset:audio", "toolset:transcription", "mcp:read-only"]


async def test_a_refresh_token_expires(store: SqlStore) -> None:
    clock = Clock()
    provider = StoreProvider(OAuthRecords(store.engine, clock), CONFIG)
    client, first = await first_tokens(provider, ["mcp"])
    assert first.refresh_token is not None
    loaded = await provider.load_refresh_token(client, first.refresh_token)
    assert loaded is not None and loaded.expires_at is not None
    assert loaded.expires_at == pytest.approx(clock.now + REFRESH_SECONDS, abs=1)
    clock.now += REFRESH_SECONDS + 1
    with pytest.raises(TokenError) as expired:
        await provider.exchange_refresh_token(client, loaded, loaded.scopes)
    assert expired.value.error == "invalid_grant"
    assert not store.is_revoked(jti(first))  # merely expired: not reuse


async def test_another_client_cannot_use_or_burn_a_refresh_token(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    client, first = await first_tokens(provider, ["mcp"])
    assert first.refresh_token is not None
    other = client.model_copy(update={"client_id": "client-2"})
    assert await provider.load_refresh_token(other, first.refresh_token) is None
    assert await provider.load_refresh_token(client, first.refresh_token) is not None


async def test_rfc7009_revokes_an_access_token_alone_or_a_refresh_tokens_family(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    client, first = await first_tokens(provider, ["mcp"])
    assert first.refresh_token is not None
    access = await provider.load_access_token(first.access_token)
    assert access is not None and access.client_id == "client-1"  # the handler compares it
    await provider.revoke_token(access)
    assert store.is_revoked(jti(first))
    second = await refresh(provider, client, first.refresh_token)  # the family stands
    assert second.refresh_token is not None
    loaded = await provider.load_refresh_token(client, second.refresh_token)
    assert isinstance(loaded, FamilyRefreshToken)
    await provider.revoke_token(loaded)
    assert store.is_revoked(jti(second))
    assert await provider.load_refresh_token(client, second.refresh_token) is None


async def test_a_dcr_client_secret_is_stored_only_as_its_hash(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    confidential = refreshing_client().model_copy(
        update={
            "client_secret": "s3cret-value-0123456789",
            "token_endpoint_auth_method": "client_secret_post",
        }
    )
    await provider.register_client(confidential)
    with store.engine.connect() as connection:
        row = connection.execute(sa.select(oauth_clients)).mappings().one()
    assert "s3cret-value-0123456789" not in str(dict(row))
    assert row["client_secret_hash"] == hashlib.sha256(b"s3cret-value-0123456789").hexdigest()
    found = await provider.get_client("client-1")
    assert found is not None and found.client_secret is None
    assert await provider.client_secret_hash("client-1") == row["client_secret_hash"]


def test_migration_0014_hashes_the_secrets_0013_stored_in_plain(tmp_path: Path) -> None:
    from alembic import command

    from aai_mcp.state.store_migrations import _config

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0013")
        info = {
            "client_id": "old",
            "client_secret": "plain-secret-of-0013",
            "redirect_uris": ["https://a.test/cb"],
        }
        connection.execute(
            sa.text("INSERT INTO oauth_clients VALUES ('old', :info, 1.0)"), {"info": json.dumps(info)}
        )
        command.upgrade(config, "head")
    with engine.connect() as connection:
        row = connection.execute(sa.select(oauth_clients)).mappings().one()
    engine.dispose()
    assert "client_secret" not in row["client_info"] and row["client_info"]["redirect_uris"] == [
        "https://a.test/cb"
    ]
    assert row["client_secret_hash"] == hashlib.sha256(b"plain-secret-of-0013").hexdigest()


async def test_a_refresh_keeps_the_grants_account_and_ends_with_the_grant(store: SqlStore) -> None:
    """What the consent page fixed beyond scopes holds through refreshes: the account's key and the
    grant's end (no access or refresh token outlives it; a refresh after it is invalid_grant)."""
    provider = StoreProvider(OAuthRecords(store.engine), replace(CONFIG, accounts=("default", "team")))
    client = refreshing_client()
    await provider.register_client(client)
    pending = await provider.pending((await provider.authorize(client, params())).split("request=")[1])
    assert pending is not None
    redirect = await provider.approve(pending, ["mcp"], "operator", account="team", lifetime=600.0)
    assert redirect is not None
    loaded = await provider.load_authorization_code(client, redirect.split("code=")[1].split("&")[0])
    assert loaded is not None
    first = await provider.exchange_authorization_code(client, loaded)
    with store.engine.connect() as connection:
        ends = connection.execute(sa.select(oauth_grants.c.expires_at)).scalar_one()
    assert first.refresh_token and first.expires_in is not None and 0 < first.expires_in <= 600
    refreshed = await refresh(provider, client, first.refresh_token)
    for token in (first, refreshed):
        claims = check_signature(token.access_token, [SECRET])
        assert claims.account == "team" and claims.exp is not None and claims.exp <= ends
    with store.engine.connect() as connection:
        refresh_ends = connection.execute(sa.select(sa.func.max(oauth_refresh_tokens.c.expires_at))).scalar()
    assert refresh_ends is not None and refresh_ends <= ends + 1
    with store.engine.begin() as connection:
        connection.execute(oauth_grants.update().values(expires_at=time.time() - 1))
    assert refreshed.refresh_token
    with pytest.raises(TokenError) as ended:
        await refresh(provider, client, refreshed.refresh_token)
    assert ended.value.error == "invalid_grant"
