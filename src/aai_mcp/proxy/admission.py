"""Who may use the proxy: the one authenticate -> authorize check both proxy doors (REST and the
streaming WebSocket) run, so a token, its scopes and its revocation mean the same on each."""

from __future__ import annotations

from collections.abc import Iterable

from aai_mcp.access.principal import Authenticator, AuthFailure, Principal, request_headers
from aai_mcp.catalog.model import Effect
from aai_mcp.proxy.refusals import Refused


def authenticate(
    authenticator: Authenticator, raw_headers: Iterable[tuple[bytes, bytes]], token: str | None = None
) -> Principal:
    """The caller behind a request's credentials (Refused when there is none, or it is refused);
    `token`: one presented outside the headers (a WebSocket subprotocol), checked against them."""
    try:
        headers = request_headers(raw_headers)
        return authenticator.authenticate(as_bearer(headers), token)
    except AuthFailure as failure:
        raise Refused(failure.status, failure.code, failure.message) from None


def as_bearer(headers: dict[str, str]) -> dict[str, str]:
    """The official SDKs send their key raw in Authorization: a raw value counts as a bearer."""
    value = headers.get("authorization", "").strip()
    if value and " " not in value:
        return {**headers, "authorization": f"Bearer {value}"}
    return headers


def authorize(principal: Principal, effect: Effect | None) -> None:
    """The proxy scope first (before the path is looked at), then the call's own effect."""
    # No scopes: auth mode none (a loopback-only server) or a passthrough caller's own key.
    if principal.scopes is None:
        return
    reason = principal.scopes.allows_proxy(effect)
    if reason is not None:
        raise Refused(403, "proxy_not_allowed", reason)
