"""Streamable HTTP at /mcp, legacy SSE at /sse + /messages/, /healthz and /metrics, around one server."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aai_mcp.access.principal import Authenticator
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import Gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.metrics import Metrics
from aai_mcp.proxy import PROXY_PREFIX, ProxyApp
from aai_mcp.proxy.streaming import STREAM_PATH, StreamProxy
from aai_mcp.transports.admin_api import admin_routes
from aai_mcp.transports.auth import AuthMiddleware, is_loopback
from aai_mcp.transports.draining import (
    Draining,
    Ending,
    ExpectingAnswers,
    SseAnswers,
    draining_for,
    keep_sse_streams_through_shutdown,
)
from aai_mcp.transports.health import Health
from aai_mcp.transports.host_check import HostCheck, HostPolicy, host_policy
from aai_mcp.transports.limits import Ledger, session_ledger, sse_ledger
from aai_mcp.transports.metrics_endpoint import MetricsEndpoint
from aai_mcp.transports.reauth import WhileAuthorized
from aai_mcp.transports.sessions import OwnedSessionManager, SessionOwners, redact_session_ids
from aai_mcp.uplink.routes import LINK_PREFIX, UploadLinkApp
from aai_mcp.webhooks.endpoint import WebhookEndpoint
from aai_mcp.webhooks.submission import WEBHOOK_PATH

INSTANCE_HEADER = "X-AAI-MCP-Instance"


def instance_name(settings: Settings) -> str:
    """What this process calls itself in responses: `--instance-id`, else a random name that tells
    processes apart behind a load balancer without showing anyone the host name and pid."""
    return settings.instance_id or f"aai-mcp-{secrets.token_hex(4)}"


class InstanceHeader:
    """Names the process that answered each request, so calls can be traced through a load balancer."""

    def __init__(self, app: ASGIApp, instance: str) -> None:
        self.app = app
        self.header = (INSTANCE_HEADER.lower().encode(), instance.encode("latin-1", "replace"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, send_named)


class SseEndpoint:
    """GET /sse: one legacy SSE session per connection, within the stream caps, its stream ended
    cleanly even when it is ended early (the SSE response then returns without its closing chunk):
    at shutdown, once every request posted to the session has its answer on it."""

    def __init__(
        self,
        server: Server[Any],
        transport: SseServerTransport,
        ledger: Ledger,
        recheck: Callable[[ASGIApp, Ending], ASGIApp],
        draining: Draining,
    ) -> None:
        self.server = server
        self.transport = transport
        self.ledger = ledger
        self.recheck = recheck
        self.draining = draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answers = self.draining.sse_stream()
        try:
            stream = partial(self._stream, answers)
            await self.ledger.hold(self.recheck(stream, answers.settled), scope, receive, send)
        finally:
            answers.forget()

    async def _stream(self, answers: SseAnswers, scope: Scope, receive: Receive, send: Send) -> None:
        ended = False

        async def tracked(message: Message) -> None:
            nonlocal ended
            ended = ended or (message["type"] == "http.response.body" and not message.get("more_body"))
            await send(message)
            answers.sent(message)  # only once it is out: an answer still to send keeps the stream open

        async with self.transport.connect_sse(scope, receive, tracked) as (read, write):
            await self.server.run(read, write, self.server.create_initialization_options())
        if not ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


class DrainingServer(uvicorn.Server):
    """uvicorn that tells the gateway when shutdown begins (`Draining.begin`).

    uvicorn runs the app's lifespan shutdown only after in-flight requests end (or the grace period
    cancels them), too late to cut a long wait short, so the hook runs first.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        on_shutdown: Callable[[], None],
        on_started: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_started is not None:
            self._on_started()  # a worker tells its supervisor it serves (see cli/worker_pool.py)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets)


def security_settings(settings: Settings) -> TransportSecuritySettings:
    """The SDK transports' own Host/Origin check, switched off: HostCheck (in front of every route,
    with exact matching) does it for them. The SDK still checks POST content types."""
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


def checked_host_policy(settings: Settings) -> HostPolicy:
    """Hosts and origins accepted; ValueError when a configured one is not a host or an origin.

    The public URL's host and origin too: people's browsers (the upload page, whose upload request
    carries an Origin) and AssemblyAI (webhooks) reach the gateway by that name."""
    hosts, origins = list(settings.allowed_hosts), list(settings.allowed_origins)
    if settings.public_url is not None:
        public = urlsplit(settings.public_url)
        hosts.append(public.netloc)
        origins.append(f"{public.scheme}://{public.netloc}")
    return host_policy(settings.host, hosts, origins)


def metrics_routes(gateway: Gateway, authenticator: Authenticator) -> list[Route]:
    """GET /metrics, unless the `metrics` setting is off (then the path does not exist: 404)."""
    mode = gateway.settings.metrics
    if mode == "off":
        return []
    endpoint = MetricsEndpoint(gateway.metrics, authenticator, mode)
    return [Route("/metrics", endpoint=endpoint, methods=["GET"])]


def webhook_routes(gateway: Gateway) -> list[Route]:
    """POST /webhooks/assemblyai when webhook capture is on (else the path does not exist: 404)."""
    if gateway.webhook_capture is None:
        return []
    endpoint = WebhookEndpoint(gateway.settings, gateway.webhook_capture, gateway.shared)
    return [Route(WEBHOOK_PATH, endpoint=endpoint, methods=["POST"])]


def legacy_sse_routes(endpoint: SseEndpoint, sse: SseServerTransport, draining: Draining) -> list[BaseRoute]:
    return [
        Route("/sse", endpoint=endpoint, methods=["GET"]),
        Mount("/messages/", app=ExpectingAnswers(sse.handle_post_message, draining)),
    ]


LEGACY_SSE_REFUSED = (
    "legacy SSE is not offered by a server with several worker processes: its POSTs would reach "
    "workers that do not hold the stream. Use Streamable HTTP at /mcp."
)


class LegacySseRefused:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"error": "not_offered", "message": LEGACY_SSE_REFUSED}
        await JSONResponse(body, status_code=404)(scope, receive, send)


def legacy_sse_refused() -> list[BaseRoute]:
    return [Route("/sse", endpoint=LegacySseRefused()), Mount("/messages/", app=LegacySseRefused())]


def count_open(metrics: Metrics, sessions: Ledger, streams: Ledger) -> None:
    metrics.gauge("aai_mcp_sessions_open", "Streamable HTTP sessions open.", lambda: sessions.open)
    metrics.gauge("aai_mcp_sse_streams_open", "SSE streams open (legacy, and MCP GET).", lambda: streams.open)


class UnsafeConfiguration(ValueError):
    """The server would accept unauthenticated calls from other machines."""


def checked_authenticator(settings: Settings) -> Authenticator:
    """The authenticator for these settings; ValueError (or UnsafeConfiguration) when they are wrong."""
    checked_host_policy(settings)  # a malformed --allowed-hosts/--allowed-origins fails here, before start
    authenticator = Authenticator(settings)
    if authenticator.resource is not None:
        from aai_mcp.transports.oauth_routes import operator_sign_in

        operator_sign_in(settings.oauth_operator_password_hash)  # a malformed hash fails here, at start
    if authenticator.open and not is_loopback(settings.host) and not settings.insecure_no_auth:
        raise UnsafeConfiguration(
            f"refusing to serve {settings.host} without authentication: anyone who reaches it could spend "
            "the AssemblyAI key. Use --auth tokens (see `aai-mcp token mint`) or --auth passthrough-key, "
            "bind 127.0.0.1, or pass --insecure-no-auth if something in front already authenticates."
        )
    return authenticator


def oauth_server_routes(gateway: Gateway, authenticator: Authenticator) -> list[BaseRoute]:
    """The OAuth authorization server's routes with auth oauth, else none. Its modules are SQL-backed
    (clients and grants live in the store), so they are imported only here: a server without it never
    loads SQLAlchemy."""
    if authenticator.resource is None:
        return []
    from aai_mcp.transports.oauth_routes import client_metadata_documents, oauth_routes

    settings = gateway.settings
    return oauth_routes(
        authenticator,
        tuple(gateway.catalog.toolsets),
        settings.oauth_operator_password_hash,
        gateway.shared,
        client_metadata_documents(settings),
        access_seconds=settings.oauth_access_token_seconds,
        refresh_seconds=int(settings.oauth_refresh_token_days * 86400),
    )


def build_http_app(
    gateway: Gateway,
    authenticator: Authenticator | None = None,
    draining: Draining | None = None,
    legacy_sse: bool = True,
) -> Starlette:
    """The HTTP front door; `draining.begin` is what the server calls when shutdown begins. Without
    `legacy_sse` (several worker processes) /sse and /messages/ answer 404 saying why."""
    settings = gateway.settings
    draining = draining or draining_for(gateway)
    keep_sse_streams_through_shutdown()
    authenticator = authenticator or checked_authenticator(settings)
    instance = instance_name(settings)
    server = build_server(gateway)
    security = security_settings(settings)
    redact_session_ids()
    streams = sse_ledger(settings)  # legacy /sse streams and Streamable HTTP GET streams alike
    sessions = session_ledger(settings)
    count_open(gateway.metrics, sessions, streams)

    def recheck(app: ASGIApp, ends: Ending = draining.began) -> ASGIApp:
        """A stream that ends when its credential is refused, or at shutdown once `ends` returns (a
        session's GET stream as soon as shutdown begins: answers never travel on it)."""
        return WhileAuthorized(app, authenticator, settings.stream_recheck_seconds, ends)

    manager = OwnedSessionManager(
        server,
        sessions,
        streams,
        recheck,
        at_once=lambda tool: (spec := gateway.registry.get(tool)) is not None and spec.answers_at_once,
        stateless=settings.stateless,
        json_response=settings.json_response,
        security_settings=security,
        max_request_body_size=settings.max_request_body_bytes,
        session_idle_timeout=settings.session_idle_timeout_seconds,
    )
    sse = SseServerTransport(
        "/messages/", security_settings=security, max_request_body_size=settings.max_request_body_bytes
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with authenticator.following(), manager.run(), gateway.running():
                yield
        finally:
            await gateway.aclose()

    mcp_endpoint = StreamableHTTPASGIApp(manager)
    return Starlette(
        routes=[
            Route("/mcp", endpoint=mcp_endpoint),
            # The credential in the path: for clients that cannot send headers (ChatGPT connectors).
            Route("/mcp/t/{token}", endpoint=mcp_endpoint),
            *(
                legacy_sse_routes(SseEndpoint(server, sse, streams, recheck, draining), sse, draining)
                if legacy_sse
                else legacy_sse_refused()
            ),
            Route("/healthz", endpoint=Health(gateway, authenticator, instance), methods=["GET"]),
            *metrics_routes(gateway, authenticator),
            *webhook_routes(gateway),
            *oauth_server_routes(gateway, authenticator),
            *admin_routes(authenticator, gateway.catalog, settings.public_url),
            WebSocketRoute(PROXY_PREFIX + STREAM_PATH, StreamProxy(gateway, authenticator)),
            Mount(PROXY_PREFIX, app=ProxyApp(gateway, authenticator)),
            Mount(LINK_PREFIX, app=UploadLinkApp(lambda: gateway.runner.links, gateway.shared, settings)),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(InstanceHeader, instance=instance),
            Middleware(HostCheck, policy=checked_host_policy(settings)),
            Middleware(AuthMiddleware, authenticator=authenticator),
            Middleware(SessionOwners),
        ],
    )
