"""The OAuth provider over the store (issue 15, first slice, part 1), on SQLite and PostgreSQL: a DCR
client is kept and read back, an authorization request waits for consent and is decided once, a code
is single-use and lives 60 s, only its hash is stored, and the access token is a signed token with the
approved scopes bound to this server's MCP URL."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from mcp.server.auth.provider import AuthorizationParams, AuthorizeError, RegistrationError, TokenError
from mcp.shared.auth import InvalidRedirectUriError, OAuthClientInformationFull
from pydantic import AnyUrl

from aai_mcp.access.oauth_provider import CODE_SECONDS, OAuthConfig, StoreProvider
from aai_mcp.access.oauth_scopes import narrowed, to_scopes
from aai_mcp.access.scopes import Scopes
from aai_mcp.access.tokens import check_signature
from aai_mcp.state.oauth_store import OAuthRecords
from aai_mcp.state.store_schema import oauth_codes, oauth_requests
from aai_mcp.state.store_sql import SqlStore

pytestmark = pytest.mark.anyio

SECRET = b"s" * 32
RESOURCE = "https://mcp.example.test/mcp"
CONFIG = OAuthConfig(RESOURCE, "https://mcp.example.test", ("transcription", "audio"), SECRET)
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def client(redirect: str = "http://127.0.0.1:3000/callback") -> OAuthClientInformationFull:
    return OAuthClientInformationFull(
        client_id="client-1", client_name="Test client", redirect_uris=[AnyUrl(redirect)],
        token_endpoint_auth_method="none",
    )  # fmt: skip


def params(**overrides: object) -> AuthorizationParams:
    values: dict[str, object] = {
        "state": "st-1", "scopes": ["mcp"], "code_challenge": CHALLENGE,
        "redirect_uri": AnyUrl("http://127.0.0.1:3000/callback"),
        "redirect_uri_provided_explicitly": True, "resource": RESOURCE,
    }  # fmt: skip
    return AuthorizationParams.model_validate({**values, **overrides})


async def consented(provider: StoreProvider, scopes: list[str]) -> str:
    registered = client()
    await provider.register_client(registered)
    consent_url = await provider.authorize(registered, params())
    pending = await provider.pending(consent_url.split("request=")[1])
    assert pending is not None
    redirect = await provider.approve(pending, scopes, "operator")
    assert redirect is not None and "state=st-1" in redirect
    return redirect.split("code=")[1].split("&")[0]


async def test_a_registered_client_is_read_back_and_matches_loopback_on_any_port(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    await provider.register_client(client())
    found = await provider.get_client("client-1")
    assert found is not None and found.client_name == "Test client"
    # RFC 8252 §7.3: the port a native app got is its own; path and host must still match exactly.
    assert found.validate_redirect_uri(AnyUrl("http://127.0.0.1:51234/callback"))
    for wrong in (
        "http://127.0.0.1:3000/other",
        "http://localhost:3000/callback",
        "https://evil.test/callback",
    ):
        with pytest.raises(InvalidRedirectUriError):
            found.validate_redirect_uri(AnyUrl(wrong))
    assert await provider.get_client("nobody") is None


async def test_http_redirects_off_loopback_are_refused_at_registration(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    with pytest.raises(RegistrationError) as refused:
        await provider.register_client(client("http://evil.test/callback"))
    assert refused.value.error == "invalid_redirect_uri"


async def test_a_request_for_another_resource_or_unknown_scope_is_refused(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    with pytest.raises(AuthorizeError) as other:
        await provider.authorize(client(), params(resource="https://other.test/mcp"))
    assert other.value.error == "invalid_target"
    with pytest.raises(AuthorizeError) as scope:
        await provider.authorize(client(), params(scopes=["admin"]))
    assert scope.value.error == "invalid_scope"


async def test_a_code_is_single_use_hashed_and_yields_a_bound_scoped_token(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    code = await consented(provider, ["toolset:audio", "mcp:read-only"])
    with store.engine.connect() as connection:
        stored = connection.execute(sa.select(oauth_codes.c.code_hash)).scalars().all()
    assert stored and code not in stored  # only the hash is kept
    registered = await provider.get_client("client-1")
    assert registered is not None
    loaded = await provider.load_authorization_code(registered, code)
    assert loaded is not None and loaded.expires_at - time.time() <= CODE_SECONDS
    token = await provider.exchange_authorization_code(registered, loaded)
    claims = check_signature(token.access_token, [SECRET])
    assert claims.aud == RESOURCE
    assert claims.scopes == Scopes(toolsets=frozenset({"audio"}), read_only=True)
    assert token.expires_in == 3600 and claims.exp is not None
    # Replay: the code is spent, whether looked up again or exchanged from a stale copy.
    assert await provider.load_authorization_code(registered, code) is None
    with pytest.raises(TokenError) as replay:
        await provider.exchange_authorization_code(registered, loaded)
    assert replay.value.error == "invalid_grant"


async def test_a_code_past_60_seconds_cannot_be_spent(store: SqlStore) -> None:
    clock = Clock()
    provider = StoreProvider(OAuthRecords(store.engine, clock), CONFIG)
    code = await consented(provider, ["mcp"])
    registered = await provider.get_client("client-1")
    assert registered is not None
    loaded = await provider.load_authorization_code(registered, code)
    assert loaded is not None
    clock.now += CODE_SECONDS + 1
    with pytest.raises(TokenError):
        await provider.exchange_authorization_code(registered, loaded)


async def test_a_consent_is_decided_once(store: SqlStore) -> None:
    provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
    await provider.register_client(client())
    consent_url = await provider.authorize(client(), params())
    pending = await provider.pending(consent_url.split("request=")[1])
    assert pending is not None
    assert await provider.approve(pending, ["mcp"], "operator") is not None
    assert await provider.approve(pending, ["mcp"], "operator") is None
    assert await provider.pending(pending.request_id) is None


def test_scope_strings_map_onto_the_one_scopes_model() -> None:
    assert to_scopes(["mcp"]) == Scopes()
    assert to_scopes([]) == Scopes(toolsets=frozenset())  # nothing granted: nothing allowed
    assert narrowed(["toolset:audio"], ["audio", "transcription"], read_only=False) == ["toolset:audio"]
    assert narrowed(["mcp"], ["audio"], read_only=True) == ["toolset:audio", "mcp:read-only"]
    assert narrowed(["mcp:read-only"], [], read_only=False) == ["mcp:read-only"]


async def test_a_new_request_prunes_expired_requests_and_codes(store: SqlStore) -> None:
    clock = Clock()
    provider = StoreProvider(OAuthRecords(store.engine, clock), CONFIG)
    await consented(provider, ["mcp"])  # one code, spent by nobody
    stale = await provider.authorize(client(), params())  # one request, decided by nobody
    clock.now += 3600
    fresh = await provider.authorize(client(), params())
    with store.engine.connect() as connection:
        codes = connection.execute(sa.select(sa.func.count()).select_from(oauth_codes)).scalar_one()
        requests = connection.execute(sa.select(oauth_requests.c.request_id)).scalars().all()
    assert codes == 0
    assert requests == [fresh.split("request=")[1]] and stale != fresh
