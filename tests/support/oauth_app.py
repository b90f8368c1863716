"""The gateway's HTTP app with `--auth oauth`, in process over a store, for OAuth tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette

from aai_mcp.access.operator_sign_in import hash_password
from aai_mcp.access.principal import Authenticator
from aai_mcp.gateway import build_gateway
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.transports.http import build_http_app
from tests.support import make_settings
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
    async with app.router.lifespan_context(app):
        yield app


def client_from(app: Starlette, address: str) -> httpx.AsyncClient:
    """An HTTP client whose requests reach `app` as if from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN)
