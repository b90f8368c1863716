"""Shared fixtures: settings with a recognizable fake key, and an in-memory MCP client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp.client import Client

from aai_mcp.config.settings import Settings
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.factory import build_server
from tests.support import make_settings

# The canary key must never leak: every test is checked (tests/support/canary.py says how).
pytest_plugins = (
    "tests.support.canary",
    "tests.support.redis",
    "tests.support.postgres",
    "tests.support.stores",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    gw = build_gateway(settings)
    try:
        yield gw
    finally:
        await gw.aclose()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[Client]:
    async with Client(build_server(gateway)) as connected:
        yield connected
