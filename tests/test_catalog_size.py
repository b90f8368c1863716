"""The whole catalog's tools/list stays in its context budget, measured as a client receives it."""

from __future__ import annotations

import pytest
from mcp.client import Client

from aai_mcp.gateway import load_default_catalog
from aai_mcp.mcp_server.dynamic_toolsets import DynamicToolsets
from aai_mcp.mcp_server.registry import Registry
from aai_mcp.mcp_server.registry.listing_size import (
    DYNAMIC_INITIAL_BUDGET_BYTES,
    TOOLS_LIST_BUDGET_BYTES,
    ListingSize,
    listing_bytes,
    listing_sizes,
)

CATALOG = load_default_catalog()


def whole(sizes: list[ListingSize]) -> ListingSize:
    return next(size for size in sizes if size.name == "whole catalog")


def test_whole_catalog_is_within_its_budget() -> None:
    size = whole(listing_sizes(CATALOG))
    assert size.bytes <= TOOLS_LIST_BUDGET_BYTES, (
        f"tools/list is {size.bytes} bytes, over the {TOOLS_LIST_BUDGET_BYTES}-byte budget: shorten "
        "descriptions, put new tools in their own toolset, or raise the budget on purpose"
    )


def test_the_dynamic_modes_first_list_is_within_its_budget() -> None:
    first = list(DynamicToolsets(Registry(CATALOG)).definitions.values())
    size = listing_bytes(first)
    assert size < DYNAMIC_INITIAL_BUDGET_BYTES, f"--dynamic-toolsets starts with {size} bytes of tools/list"
    # tests/test_dynamic_toolsets.py checks that this is what a session is offered first.
    assert [tool.name for tool in first] == ["list_toolsets", "enable_toolset"]


def test_every_toolset_has_a_row_and_the_rows_add_up() -> None:
    sizes = listing_sizes(CATALOG)
    toolsets = [size for size in sizes if size.name != "whole catalog"]
    assert [size.name for size in toolsets] == list(CATALOG.toolsets)
    assert sum(size.tools for size in toolsets) == whole(sizes).tools == len(CATALOG.tools)
    # One list's framing ({"tools": [...]}) is shared, so the whole is a little less than the sum.
    assert max(size.bytes for size in toolsets) < whole(sizes).bytes <= sum(size.bytes for size in toolsets)


@pytest.mark.anyio
async def test_the_measured_size_is_what_a_client_receives(client: Client) -> None:
    listed = await client.list_tools()
    received = len(listed.model_dump_json(by_alias=True, exclude_none=True).encode())
    measured = whole(listing_sizes(CATALOG)).bytes
    # This client's 2026-07-28 session gets no `execution` (tasks are an extension there); the table
    # counts the 2025-11-25 listing, which carries it on the tools that can run as tasks: the larger.
    offered = list(Registry(CATALOG).definitions.values())
    without_execution = [tool.model_copy(update={"execution": None}) for tool in offered]
    assert any(tool.execution for tool in offered)
    assert listing_bytes(list(listed.tools)) == listing_bytes(without_execution) < measured
    # The result the client got also carries _meta (serverInfo): a fixed few hundred bytes more.
    assert 0 <= received - measured < 1_000
