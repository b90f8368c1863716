"""The OAuth authorization server's HTTP routes (auth oauth), from the SDK's building blocks: RFC 8414
metadata, DCR (RFC 7591), authorize and token (PKCE S256 only, rotating refresh tokens), revocation
(RFC 7009), RFC 9728 metadata for /mcp, and our consent page between authorize and the client's
redirect."""

from __future__ import annotations

from mcp.server.auth.routes import create_auth_routes, create_protected_resource_routes
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from pydantic import AnyHttpUrl, SecretStr
from starlette.routing import BaseRoute, Route

from aai_mcp.access.oauth_provider import (
    ACCESS_SECONDS,
    CONSENT_PATH,
    REFRESH_SECONDS,
    OAuthConfig,
    StoreProvider,
)
from aai_mcp.access.oauth_scopes import DEFAULT_SCOPES, supported
from aai_mcp.access.operator_sign_in import NoSignIn, PasswordSignIn, SignIn
from aai_mcp.access.principal import Authenticator
from aai_mcp.state.oauth_store import OAuthRecords
from aai_mcp.transports.oauth_consent import ConsentPage
from aai_mcp.transports.oauth_token_routes import with_hashed_client_secrets


def oauth_routes(
    authenticator: Authenticator,
    toolsets: tuple[str, ...],
    password_hash: SecretStr | None,
    *,
    access_seconds: int = ACCESS_SECONDS,
    refresh_seconds: int = REFRESH_SECONDS,
) -> list[BaseRoute]:
    """Nothing unless auth oauth is on; then every route an MCP client's OAuth flow needs."""
    if authenticator.resource is None:
        return []
    if authenticator.oauth_engine is None:
        raise ValueError("auth mode 'oauth' needs the durable store (its clients and codes live there)")
    public_url = authenticator.resource.removesuffix("/mcp")
    lifetimes = (access_seconds, refresh_seconds)
    config = OAuthConfig(authenticator.resource, public_url, toolsets, authenticator.secrets[0], *lifetimes)
    provider = StoreProvider(OAuthRecords(authenticator.oauth_engine), config)
    scopes = supported(toolsets)
    registration = ClientRegistrationOptions(enabled=True, valid_scopes=scopes, default_scopes=DEFAULT_SCOPES)
    consent = ConsentPage(
        provider, operator_sign_in(password_hash), config.secret, public_url.startswith("https:")
    )
    auth_routes = create_auth_routes(
        provider,
        issuer_url=AnyHttpUrl(public_url),
        client_registration_options=registration,
        revocation_options=RevocationOptions(enabled=True),
    )
    return [
        *with_hashed_client_secrets(auth_routes, provider),
        *create_protected_resource_routes(
            resource_url=AnyHttpUrl(authenticator.resource),
            authorization_servers=[AnyHttpUrl(public_url)],
            scopes_supported=scopes,
            resource_name="aai-mcp",
        ),
        Route(CONSENT_PATH, endpoint=consent.respond, methods=["GET", "POST"]),
    ]


def operator_sign_in(password_hash: SecretStr | None) -> SignIn:
    """How the operator signs in on the consent page; ValueError for a malformed hash."""
    if password_hash is None:
        return NoSignIn()
    return PasswordSignIn(password_hash.get_secret_value())
