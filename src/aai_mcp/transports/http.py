"""Streamable HTTP at /mcp, legacy SSE at /sse + /messages/, and /healthz, around one server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from aai_mcp import __version__
from aai_mcp.gateway import Gateway
from aai_mcp.server import build_server
from aai_mcp.settings import Settings

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def security_settings(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection: loopback names always, plus the bind address and configured extras."""
    names = list(LOOPBACK_NAMES)
    if settings.host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", "::1"):
        names.append(f"[{settings.host}]" if ":" in settings.host else settings.host)
    hosts = [pattern for name in names for pattern in (name, f"{name}:*")] + settings.allowed_hosts
    origins = [
        f"{scheme}://{name}{port}" for name in names for scheme in ("http", "https") for port in ("", ":*")
    ]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=origins + settings.allowed_origins,
    )


def build_http_app(gateway: Gateway) -> Starlette:
    settings = gateway.settings
    server = build_server(gateway)
    security = security_settings(settings)
    manager = StreamableHTTPSessionManager(
        app=server,
        stateless=settings.stateless,
        json_response=settings.json_response,
        security_settings=security,
        max_request_body_size=settings.max_request_body_bytes,
    )
    sse = SseServerTransport(
        "/messages/", security_settings=security, max_request_body_size=settings.max_request_body_bytes
    )

    async def handle_sse(request: Request) -> Response:
        async with sse.connect_sse(request.scope, request.receive, request._send) as (read, write):
            await server.run(read, write, server.create_initialization_options())
        return Response()

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "simulated": settings.simulated,
                "tools": len(gateway.registry.definitions),
            }
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with manager.run():
                yield
        finally:
            await gateway.aclose()

    return Starlette(
        routes=[
            Route("/mcp", endpoint=StreamableHTTPASGIApp(manager)),
            Route("/sse", endpoint=handle_sse, methods=["GET"]),
            Mount("/messages/", app=sse.handle_post_message),
            Route("/healthz", endpoint=healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
