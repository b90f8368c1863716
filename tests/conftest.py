"""Shared fixtures: settings with a recognizable fake key, and an in-memory MCP client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from mcp.client import Client

from aai_mcp.config.settings import Settings
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.factory import build_server
from tests.support import make_settings
from tests.support.catalog import share_session_catalog

# The canary key must never leak: every test is checked (tests/support/canary.py says how). `--unit`
# runs only in-process tests and proves they are (tests/support/unit_boundary.py).
pytest_plugins = (
    "tests.support.canary",
    "tests.support.output_contract",
    "tests.support.redis",
    "tests.support.postgres",
    "tests.support.stores",
    "tests.support.unit_boundary",
    "tests.support.exit_threads",
    "tests.support.root_logger",
    "tests.support.data_home",
    "pytester",
)

_CATALOG_PATCH = pytest.StashKey[pytest.MonkeyPatch]()


def pytest_configure(config: pytest.Config) -> None:
    # Before collection, so the modules that read the catalog at import share it too.
    config.stash[_CATALOG_PATCH] = share_session_catalog()
    # In-process gateways send upstream calls through httpcore, where respx intercepts them; the served
    # ones (subprocesses get a clean environment) and tests/test_upstream_aiohttp.py run the default,
    # aiohttp beneath httpx.
    os.environ.setdefault("AAI_MCP_UPSTREAM_TRANSPORT", "httpx")


def pytest_unconfigure(config: pytest.Config) -> None:
    config.stash[_CATALOG_PATCH].undo()


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
