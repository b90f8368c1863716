"""The Starlette app serving all four AssemblyAI hosts' paths on one base URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .account_state import Simulator
from .config import SimulatorConfig
from .host_rules import PREFIXED_HOSTS, UpstreamError, error_response, host_for_path
from .instant_routes import INSTANT_ROUTES
from .middleware import SimulatorMiddleware
from .routes_admin import ADMIN_ROUTES, AdminGuard
from .routes_api import API_ROUTES
from .routes_gateway import GATEWAY_ROUTES
from .speech_route import SPEECH_ROUTES
from .streaming_route import STREAMING_ROUTES
from .webhook_sender import WebhookSender

NOT_FOUND = "Not found"


async def upstream_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UpstreamError)
    host = host_for_path(request.url.path)
    return error_response(
        host, exc.status, exc.message, exc.headers, exc.errors, code=exc.code, param=exc.param
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = NOT_FOUND if exc.status_code == 404 else str(exc.detail)
    return error_response(host_for_path(request.url.path), exc.status_code, message, exc.headers)


class HostPrefixes:
    """A request addressed to sync.* or dictation.* (a transport mounting the simulator under the real
    host names) is served under that host's prefix, as a request to the simulator's own address is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            prefix = "/" + host.split(".", 1)[0]
            if prefix in PREFIXED_HOSTS and "." in host and not scope["path"].startswith(prefix + "/"):
                raw = scope.get("raw_path") or scope["path"].encode()
                scope = {**scope, "path": prefix + scope["path"], "raw_path": prefix.encode() + raw}
        await self.app(scope, receive, send)


def build_simulator_app(config: SimulatorConfig) -> Starlette:
    """A fresh simulator; its state is `app.state.simulator` (a `Simulator`)."""
    simulator = Simulator(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Served on a socket (uvicorn runs the lifespan), it sends webhooks; in-process callers run
        # their own WebhookSender, with a transport of their choice.
        async with WebhookSender(simulator.webhooks, simulator.status_of).running():
            yield

    routes = [*API_ROUTES, *GATEWAY_ROUTES, *SPEECH_ROUTES, *STREAMING_ROUTES, *INSTANT_ROUTES, *ADMIN_ROUTES]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(HostPrefixes),
            Middleware(AdminGuard, keys=config.keys),
            Middleware(SimulatorMiddleware, simulator=simulator, routes=routes),
        ],
        exception_handlers={UpstreamError: upstream_error, HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.simulator = simulator
    return app
