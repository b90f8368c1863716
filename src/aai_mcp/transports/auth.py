"""HTTP authentication in front of the MCP endpoints: tokens in the URL or as a bearer, or a caller's key."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from aai_mcp.access.principal import SCOPE_KEY, Authenticator, AuthFailure, Principal, request_headers
from aai_mcp.transports.host_check import Authority

TOKEN_PATH_PREFIX = "/mcp/t/"
PROTECTED_PREFIXES = ("/mcp", "/sse", "/messages")


class AuthMiddleware:
    """Resolves every MCP request to a Principal (in the ASGI scope) or answers 400/401/403/503 itself.

    Every HTTP request, MCP or not, is refused when it repeats a credential header."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            principal = credential_principal(self.authenticator, scope)
        except AuthFailure as failure:
            await refusal_response(failure, self.authenticator.resource_metadata)(scope, receive, send)
            return
        await self.app(scope if principal is None else {**scope, SCOPE_KEY: principal}, receive, send)


def credential_principal(authenticator: Authenticator, scope: Scope) -> Principal | None:
    """The principal a request's credentials stand for now (AuthFailure when refused); None for
    paths that need none (health), whose credential headers must still not repeat."""
    headers = request_headers(scope["headers"])
    path = str(scope.get("path", ""))
    if not path.startswith(PROTECTED_PREFIXES):
        return None
    return authenticator.authenticate(headers, _path_token(path))


def _path_token(path: str) -> str | None:
    if not path.startswith(TOKEN_PATH_PREFIX):
        return None
    return path[len(TOKEN_PATH_PREFIX) :].strip("/") or None


def refusal_response(failure: AuthFailure, resource_metadata: str | None = None) -> JSONResponse:
    """The one JSON shape of an authentication or authorization refusal. With `resource_metadata`
    (auth oauth), a 401 names it so an MCP client can discover where to get a token (RFC 9728 §5.1)."""
    challenge = 'Bearer realm="aai-mcp"'
    if resource_metadata is not None:
        challenge += f', resource_metadata="{resource_metadata}"'
    headers = {"WWW-Authenticate": challenge} if failure.status == 401 else None
    body = {"error": {"code": failure.code, "message": failure.message}}
    return JSONResponse(body, status_code=failure.status, headers=headers)


def is_loopback(host: str) -> bool:
    """Whether a bind address (`127.0.0.1`, `::1`, `localhost`) only listens on this machine."""
    return Authority(host).is_loopback
