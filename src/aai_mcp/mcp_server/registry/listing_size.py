"""How big `tools/list` is: per toolset and for the whole catalog, as a client receives it.

Every tool definition costs context in the model on every turn, so the README reports these
figures and a test keeps the whole catalog under `TOOLS_LIST_BUDGET_BYTES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import mcp_types as types

from aai_mcp.catalog import Catalog
from aai_mcp.mcp_server.registry import Registry

# About 7 500 tokens (issue 17): the whole catalog was 87 kB before create_transcript's rarer fields
# went into `options` and output schemas were listed as outlines. Raising it is a decision to record
# in the commit, not a number to bump quietly.
TOOLS_LIST_BUDGET_BYTES = 30_000
DYNAMIC_INITIAL_BUDGET_BYTES = 8_000
"""--dynamic-toolsets: the first tools/list of a session (the meta tools) stays under this."""
BYTES_PER_TOKEN = 4  # the usual rough figure for English and JSON (bench/catalog_size.py uses it too)


@dataclass(frozen=True)
class ListingSize:
    """The `tools/list` result a client gets with only these tools offered."""

    name: str
    tools: int
    bytes: int

    @property
    def tokens(self) -> int:
        return round(self.bytes / BYTES_PER_TOKEN)


def listing_bytes(tools: list[types.Tool]) -> int:
    """Bytes of the JSON-RPC result as the server serialises it (no indentation)."""
    result = types.ListToolsResult(tools=tools)
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


def listing_sizes(catalog: Catalog) -> list[ListingSize]:
    """One row per toolset, in catalog order, then the whole catalog (every tool offered)."""
    definitions = Registry(catalog).definitions
    rows = []
    for toolset in catalog.toolsets:
        tools = [definitions[name] for name, spec in catalog.tools.items() if spec.toolset == toolset]
        rows.append(ListingSize(toolset, len(tools), listing_bytes(tools)))
    rows.append(ListingSize("whole catalog", len(definitions), listing_bytes(list(definitions.values()))))
    return rows
