"""HTTP authentication in front of the MCP endpoints: tokens in the URL or as a bearer, or a caller's key."""

from __future__ import annotations

import ipaddress

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from aai_mcp.access.principal import SCOPE_KEY, Authenticator, AuthFailure

TOKEN_PATH_PREFIX = "/mcp/t/"
PROTECTED_PREFIXES = ("/mcp", "/sse", "/messages")


class AuthMiddleware:
    """Resolves every MCP request to a Principal (in the ASGI scope) or answers 401/403/503 itself."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith(PROTECTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        path_token = _path_token(path)
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        try:
            principal = self.authenticator.authenticate(headers, path_token)
        except AuthFailure as failure:
            await _refuse(failure)(scope, receive, send)
            return
        await self.app({**scope, SCOPE_KEY: principal}, receive, send)


def _path_token(path: str) -> str | None:
    if not path.startswith(TOKEN_PATH_PREFIX):
        return None
    return path[len(TOKEN_PATH_PREFIX) :].strip("/") or None


def _refuse(failure: AuthFailure) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="aai-mcp"'} if failure.status == 401 else None
    body = {"error": {"code": failure.code, "message": failure.message}}
    return JSONResponse(body, status_code=failure.status, headers=headers)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
