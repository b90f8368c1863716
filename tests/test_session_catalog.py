"""The test session loads the default catalog once and every gateway shares it (tests/support/catalog.py)."""

from __future__ import annotations

import pytest

from aai_mcp.catalog import default_schema_dir, load_catalog
from aai_mcp.gateway import build_gateway, load_default_catalog
from aai_mcp.mcp_server.handlers.handler_table import HANDLER_CALLS
from aai_mcp.mcp_server.views.view_table import VIEWS
from tests.support import make_settings
from tests.support.catalog import load_fresh_catalog, session_catalog


@pytest.mark.anyio
async def test_gateways_share_the_session_catalog() -> None:
    first, second = build_gateway(make_settings()), build_gateway(make_settings(read_only=True))
    try:
        assert first.catalog is second.catalog is session_catalog()
        assert load_default_catalog() is session_catalog()
    finally:
        await first.aclose()
        await second.aclose()


def test_the_shared_catalog_is_the_packaged_one_unchanged() -> None:
    # Shared by every test so far: none may have changed it, and the cache must hide no edit on disk.
    fresh = load_fresh_catalog()
    assert fresh is not session_catalog()
    assert session_catalog() == fresh
    assert load_catalog(default_schema_dir(), handlers=HANDLER_CALLS, views=VIEWS.keys()) == fresh
