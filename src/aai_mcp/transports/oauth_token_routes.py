"""The token and revocation endpoints (RFC 6749, RFC 7009) with client authentication against hashed
secrets. The SDK's ClientAuthenticator compares a stored plain secret; the store keeps only each DCR
client's SHA-256 (a backup of the table holds no credential), so the SDK's handlers are rebuilt here
with an authenticator that compares hashes in constant time. The token endpoint also refuses a
`resource` other than this server's MCP URL (RFC 8707), which the SDK leaves to the provider."""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import unquote

from mcp.server.auth.handlers.revoke import RevocationHandler
from mcp.server.auth.handlers.token import TokenErrorResponse, TokenHandler
from mcp.server.auth.middleware.client_auth import AuthenticationError, ClientAuthenticator
from mcp.server.auth.routes import REVOCATION_PATH, TOKEN_PATH
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, RequestBodyLimitMiddleware
from mcp.shared.auth import OAuthClientInformationFull
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from starlette.datastructures import FormData
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import ASGIApp

from aai_mcp.access.oauth_provider import StoreProvider
from aai_mcp.state.oauth_store import hashed


class HashedSecretAuthenticator(ClientAuthenticator):
    """Client authentication (none, client_secret_post, client_secret_basic) against the stored hash."""

    def __init__(self, provider: StoreProvider) -> None:
        super().__init__(provider)
        self.store_provider = provider

    async def authenticate_request(self, request: Request) -> OAuthClientInformationFull:
        form = await request.form()
        client_id = form.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise AuthenticationError("Missing client_id")
        client = await self.store_provider.get_client(client_id)
        if client is None:
            raise AuthenticationError("Invalid client_id")
        method = client.token_endpoint_auth_method
        if method == "none":
            return client
        presented = _presented_secret(request, form, method, client_id)
        stored = await self.store_provider.client_secret_hash(client_id)
        # Compared as digests: equal length, constant time, and the stored value is never a secret.
        if stored is None or presented is None or not hmac.compare_digest(hashed(presented), stored):
            raise AuthenticationError("Invalid client credentials")
        if client.client_secret_expires_at and client.client_secret_expires_at < int(time.time()):
            raise AuthenticationError("Client secret has expired")
        return client


def _presented_secret(request: Request, form: FormData, method: str | None, client_id: str) -> str | None:
    if method == "client_secret_post":
        secret = form.get("client_secret")
        return secret if isinstance(secret, str) and secret else None
    if method != "client_secret_basic":
        raise AuthenticationError(f"Unsupported auth method: {method}")
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        raise AuthenticationError("Missing or invalid Basic authentication in Authorization header")
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise AuthenticationError("Invalid Basic authentication header") from None
    basic_id, separator, secret = decoded.partition(":")
    if not separator:
        raise AuthenticationError("Invalid Basic authentication header")
    if unquote(basic_id) != client_id:  # RFC 6749 §2.3.1: both parts are form-urlencoded
        raise AuthenticationError("Client ID mismatch in Basic auth")
    return unquote(secret) or None


@dataclass
class BoundTokenHandler(TokenHandler):
    """The SDK's token endpoint, refusing a token for another resource before anything else."""

    resource: str = ""

    async def handle(self, request: Request) -> Response:
        asked = (await request.form()).get("resource")
        if asked is not None and asked != self.resource:
            only = f"this server issues tokens only for {self.resource}"
            error = TokenErrorResponse(error="invalid_target", error_description=only)
            refused: Response = self.response(error)
            return refused
        answered: Response = await super().handle(request)
        return answered


MAX_TOKEN_CHARS = 4096


@dataclass
class PublicClientRevocation(RevocationHandler):
    """RFC 7009 as the SDK's handler does it, but a public client may leave client_secret out (the
    SDK's request model requires the field: every public client's revocation would be a 400)."""

    async def handle(self, request: Request) -> Response:
        try:
            client = await self.client_authenticator.authenticate_request(request)
        except AuthenticationError as exc:
            return _revocation_error(401, "unauthorized_client", exc.message)
        form = await request.form()
        token, hint = form.get("token"), form.get("token_type_hint")
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            return _revocation_error(400, "invalid_request", f"token: 1 to {MAX_TOKEN_CHARS} characters")
        loaders: list[Callable[[str], Awaitable[Any]]] = [
            self.provider.load_access_token,
            partial(self.provider.load_refresh_token, client),
        ]
        if hint == "refresh_token":
            loaders.reverse()
        for load in loaders:
            found = await load(token)
            if found is not None:
                # Another client's token is left alone, and the answer is the same 200 (RFC 7009 §2.2).
                if found.client_id == client.client_id:
                    await self.provider.revoke_token(found)
                break
        return Response(status_code=200, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _revocation_error(status: int, error: str, description: str) -> Response:
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def with_hashed_client_secrets(routes: list[Any], provider: StoreProvider) -> list[BaseRoute]:
    """The SDK's auth routes with /token and /revoke served by handlers on HashedSecretAuthenticator
    (each keeps the SDK route's CORS and body-size wrapping: only the handler inside changes)."""
    authenticator = HashedSecretAuthenticator(provider)
    token = BoundTokenHandler(provider, authenticator, resource=provider.config.resource)
    revocation = PublicClientRevocation(provider, authenticator)
    handlers = {TOKEN_PATH: token.handle, REVOCATION_PATH: revocation.handle}
    rebuilt: list[BaseRoute] = []
    for route in routes:
        handler = handlers.get(getattr(route, "path", ""))
        if handler is None:
            rebuilt.append(route)
            continue
        rebuilt.append(Route(route.path, endpoint=_wrapped(handler), methods=["POST", "OPTIONS"]))
    return rebuilt


def _wrapped(handler: Callable[[Request], Awaitable[Response]]) -> ASGIApp:
    # As the SDK wraps its own: browser-based clients (MCP Inspector) may call these cross-origin, and
    # the body is bounded before the form is parsed.
    limited = RequestBodyLimitMiddleware(request_response(handler), DEFAULT_MAX_REQUEST_BODY_SIZE)
    methods = ["POST", "OPTIONS"]
    return CORSMiddleware(
        limited, allow_origins="*", allow_methods=methods, allow_headers=[MCP_PROTOCOL_VERSION_HEADER]
    )
