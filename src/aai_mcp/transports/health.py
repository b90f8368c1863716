"""GET /healthz: whether this process can serve, for probes and load balancers, told to anyone;
which process and build it is, told only to callers who may use it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from aai_mcp import __version__
from aai_mcp.access.principal import Authenticator, AuthFailure, request_headers
from aai_mcp.gateway import Gateway
from aai_mcp.transports.auth import is_loopback


class Health:
    """`{"status": "ok"}` (200), or `{"status": "unavailable", "reason": ...}` (503) while every token
    is refused because the revocation file is missing or unreadable, or the store has not been read
    for too long.

    Instance, version, simulator mode, tool count, the shared state's status and the store's engine are
    added for a caller with a valid access token, or for anyone when the server is open (auth none) on
    loopback, where everyone who can reach it may use it anyway. A passthrough key does not unlock them:
    it is not checked until a call reaches AssemblyAI.
    """

    def __init__(self, gateway: Gateway, authenticator: Authenticator, instance: str) -> None:
        self.gateway = gateway
        self.authenticator = authenticator
        self.instance = instance
        self.open_on_loopback = authenticator.open and is_loopback(gateway.settings.host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = self.authenticator.problem()
        body: dict[str, Any] = (
            {"status": "ok"} if problem is None else {"status": "unavailable", "reason": problem}
        )
        if self._may_see_details(Request(scope)):
            body.update(
                instance=self.instance,
                version=__version__,
                simulated=self.gateway.settings.simulated,
                tools=len(self.gateway.registry.definitions),
                # in-process, redis, or degraded: Redis configured but unreachable, so limits and
                # polling are per instance until it is back (calls are still served).
                shared_state=self.gateway.shared.status,
            )
            if self.authenticator.feed is not None:
                body["store"] = self.authenticator.feed.store.engine_name
        await JSONResponse(body, status_code=200 if problem is None else 503)(scope, receive, send)

    def _may_see_details(self, request: Request) -> bool:
        if self.open_on_loopback:
            return True
        if self.authenticator.open:
            return False
        try:
            principal = self.authenticator.authenticate(request_headers(request.scope["headers"]), None)
        except AuthFailure:
            return False
        return principal.scopes is not None  # a signed token (a passthrough principal has no scopes)
