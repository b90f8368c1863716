"""The default catalog, loaded and validated once per test session.

Loading tool_schemas/ costs about a quarter of a second, and most tests build a gateway (or read
the catalog at import) only to use the same packaged specs. conftest.py routes
`aai_mcp.gateway.load_default_catalog` here for the whole session, so every in-process caller,
including tests written later, shares one load. A test that needs a different catalog loads its
own directory with `load_catalog`, which this does not touch. Subprocess servers load their own.
"""

from __future__ import annotations

import functools

import pytest

from aai_mcp import gateway
from aai_mcp.catalog import Catalog

# The real loader, kept before conftest replaces the module attribute.
load_fresh_catalog = gateway.load_default_catalog


@functools.cache
def session_catalog() -> Catalog:
    return load_fresh_catalog()


def share_session_catalog() -> pytest.MonkeyPatch:
    """Make `load_default_catalog` (and so `build_gateway`) return the session's one catalog; the
    caller undoes the returned patch at the end of the session."""
    patch = pytest.MonkeyPatch()
    patch.setattr(gateway, "load_default_catalog", session_catalog)
    return patch
