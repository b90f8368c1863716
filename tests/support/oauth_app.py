"""The gateway's HTTP app with `--auth oauth`, in process over a store, for OAuth tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette

from aai_mcp.access.operator_sign_in import hash_password
from aai_mcp.access.principal import Authenticator
from aai_mcp.gateway import build_gateway
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.transports.http import build_http_app
from tests.support import CANARY_KEY, make_settings
from tests.support.oauth_flow import PASSWORD

ORIGIN = "http://127.0.0.1:8000"


@asynccontextmanager
async def oauth_app(
    store: SqlStore, upstream: httpx.AsyncBaseTransport, secret: str, **settings: Any
) -> AsyncIterator[Starlette]:
    """The app, its lifespan running; `settings` override the OAuth ones."""
    configured = make_settings(
        **{
            "auth": ["oauth"],
            "public_url": ORIGIN,
            "token_secrets": SecretStr(secret),
            "oauth_operator_password_hash": SecretStr(hash_password(PASSWORD, n=2**10)),
            **settings,
        }
    )
    gateway = build_gateway(configured, transport=upstream)
    authenticator = Authenticator(configured)
    authenticator.use_store(store)
    app = build_http_app(gateway, authenticator)
    app.state.test_authenticator = authenticator
    # The lifespan runs the session manager (and closes the gateway after).
    async with app.router.lifespan_context(app):
        yield app


@dataclass
class OAuthServed:
    """An HTTP client on the OAuth app, and the app's authenticator (to read revocations at once)."""

    http: httpx.AsyncClient
    authenticator: Authenticator


def simulator_upstream() -> httpx.AsyncBaseTransport:
    """The simulator in process, jobs done at once, accepting the canary key."""
    return httpx.ASGITransport(
        app=build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    )


@asynccontextmanager
async def oauth_served(
    store: SqlStore, secret: str, upstream: httpx.AsyncBaseTransport | None = None, **settings: Any
) -> AsyncIterator[OAuthServed]:
    """`oauth_app` (over the simulator unless `upstream` is given) with a client on it."""
    async with oauth_app(store, upstream or simulator_upstream(), secret, **settings) as app:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http:
            yield OAuthServed(http, app.state.test_authenticator)


def client_from(app: Starlette, address: str) -> httpx.AsyncClient:
    """An HTTP client whose requests reach `app` as if from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN)
