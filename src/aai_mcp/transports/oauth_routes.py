"""The OAuth authorization server's HTTP routes (auth oauth), from the SDK's building blocks: RFC 8414
metadata (plus client_id_metadata_document_supported), DCR (RFC 7591), authorize and token (PKCE
S256 only, rotating refresh tokens), revocation (RFC 7009), RFC 9728 metadata for /mcp, and our
consent page between authorize and the client's
redirect."""

from __future__ import annotations

from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.routes import (
    build_metadata,
    cors_middleware,
    create_auth_routes,
    create_protected_resource_routes,
)
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from pydantic import AnyHttpUrl, SecretStr
from starlette.routing import BaseRoute, Route

from aai_mcp.access.accounts import DEFAULT_ACCOUNT
from aai_mcp.access.client_metadata_documents import MetadataDocuments, fetch_limits
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
from aai_mcp.access.sign_in_attempts import SignInAttempts
from aai_mcp.config.settings import Settings
from aai_mcp.state.oauth_store import OAuthRecords
from aai_mcp.state.shared import SharedState
from aai_mcp.transports.oauth_consent import ConsentPage
from aai_mcp.transports.oauth_token_routes import with_hashed_client_secrets

METADATA_PATH = "/.well-known/oauth-authorization-server"


def oauth_routes(
    authenticator: Authenticator,
    toolsets: tuple[str, ...],
    password_hash: SecretStr | None,
    shared: SharedState,
    documents: MetadataDocuments | None = None,
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
    accounts = tuple(authenticator.accounts) or (DEFAULT_ACCOUNT,)
    config = OAuthConfig(
        authenticator.resource,
        public_url,
        toolsets,
        authenticator.secrets[0],
        accounts,
        access_seconds,
        refresh_seconds,
    )
    provider = StoreProvider(OAuthRecords(authenticator.oauth_engine), config, documents)
    scopes = supported(toolsets)
    registration = ClientRegistrationOptions(enabled=True, valid_scopes=scopes, default_scopes=DEFAULT_SCOPES)
    revocation = RevocationOptions(enabled=True)
    consent = ConsentPage(
        provider,
        operator_sign_in(password_hash),
        config.secret,
        public_url.startswith("https:"),
        SignInAttempts(shared),
    )
    sdk_routes = create_auth_routes(
        provider,
        issuer_url=AnyHttpUrl(public_url),
        client_registration_options=registration,
        revocation_options=revocation,
    )
    return [
        server_metadata_route(AnyHttpUrl(public_url), registration, revocation),
        *with_hashed_client_secrets([route for route in sdk_routes if route.path != METADATA_PATH], provider),
        *create_protected_resource_routes(
            resource_url=AnyHttpUrl(authenticator.resource),
            authorization_servers=[AnyHttpUrl(public_url)],
            # What a client asks for by default (the MCP spec's scope selection takes these whole):
            # everything, for the operator to narrow on the consent page. Narrowing scopes such as
            # mcp:read-only stay in the server metadata, for clients that want to ask for less.
            scopes_supported=DEFAULT_SCOPES,
            resource_name="aai-mcp",
        ),
        Route(CONSENT_PATH, endpoint=consent.respond, methods=["GET", "POST"]),
    ]


def server_metadata_route(
    issuer: AnyHttpUrl, registration: ClientRegistrationOptions, revocation: RevocationOptions
) -> Route:
    """The SDK's RFC 8414 metadata plus what it does not know we offer: client metadata documents
    (an https client_id URL), whose clients are public ones (token_endpoint_auth_method none)."""
    metadata = build_metadata(issuer, None, registration, revocation)
    metadata.client_id_metadata_document_supported = True
    methods = metadata.token_endpoint_auth_methods_supported or []
    metadata.token_endpoint_auth_methods_supported = [*methods, "none"]
    endpoint = cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"])
    return Route(METADATA_PATH, endpoint=endpoint, methods=["GET", "OPTIONS"])


def operator_sign_in(password_hash: SecretStr | None) -> SignIn:
    """How the operator signs in on the consent page; ValueError for a malformed hash."""
    if password_hash is None:
        return NoSignIn()
    return PasswordSignIn(password_hash.get_secret_value())


def client_metadata_documents(settings: Settings) -> MetadataDocuments:
    """The fetcher of client metadata documents, within the settings' allowance and deadline."""
    limits = fetch_limits(
        settings.oauth_client_metadata_private_hosts, settings.oauth_client_metadata_timeout_seconds
    )
    return MetadataDocuments(limits)
