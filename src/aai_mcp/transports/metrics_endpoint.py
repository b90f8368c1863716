"""GET /metrics: the Prometheus exposition, for this machine or a token minted with --metrics.

Metrics tell who uses which tool how often, so they are not public. With `metrics = loopback` (the
default) a request from this machine reads them without credentials, unless it came through a proxy:
a reverse proxy on the same host makes every remote client look local, so a request carrying
forwarding headers counts as remote. Anyone else needs an access token whose scopes grant `metrics`;
a passthrough key never does (it is not checked until a call reaches AssemblyAI)."""

from __future__ import annotations

import ipaddress

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from aai_mcp.access.principal import Authenticator, AuthFailure, request_headers
from aai_mcp.metrics import CONTENT_TYPE, Metrics
from aai_mcp.transports.auth import refusal_response

FORWARDING_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-real-ip")


class MetricsEndpoint:
    """Answers the exposition (200), or 401/403 (400 for a repeated credential header)."""

    def __init__(self, metrics: Metrics, authenticator: Authenticator, mode: str) -> None:
        self.metrics = metrics
        self.authenticator = authenticator
        self.loopback_reads = mode == "loopback"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = None if self.loopback_reads and from_this_machine(scope) else self._refusal(scope)
        if refusal is not None:
            await refusal_response(refusal)(scope, receive, send)
            return
        await Response(self.metrics.exposition(), media_type=CONTENT_TYPE)(scope, receive, send)

    def _refusal(self, scope: Scope) -> AuthFailure | None:
        if self.authenticator.open:
            return AuthFailure(403, "metrics_forbidden", "Metrics are readable only from this machine.")
        try:
            principal = self.authenticator.authenticate(request_headers(scope["headers"]), None)
        except AuthFailure as failure:
            return failure
        if not principal.may_read_metrics():
            message = "This credential may not read metrics (a token minted with --metrics may)."
            return AuthFailure(403, "metrics_forbidden", message)
        return None


def from_this_machine(scope: Scope) -> bool:
    """The peer is a loopback address and no proxy forwarded the request."""
    client = scope.get("client")
    try:
        loopback = client is not None and ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False  # a Unix socket peer or a test client's name: not known to be local
    headers = {name.lower() for name, _ in scope.get("headers", [])}
    return loopback and not headers.intersection(FORWARDING_HEADERS)
