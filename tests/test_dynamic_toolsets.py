"""--dynamic-toolsets: a session starts with list_toolsets and enable_toolset, enables toolsets on
request and hears tools/list_changed; sessionless clients see the whole catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client import Client
from pydantic import ValidationError

from aai_mcp.access.scopes import Scopes
from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.dynamic_toolsets import ENABLE_TOOLSET, LIST_TOOLSETS, DynamicToolsets
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.registry import Registry
from aai_mcp.mcp_server.registry.listing_size import DYNAMIC_INITIAL_BUDGET_BYTES, listing_bytes
from tests.support import CANARY_KEY, make_settings
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.anyio


class Connection:
    """Stands for the SDK's per-session connection object (weakly referenced, like it)."""


META = [LIST_TOOLSETS, ENABLE_TOOLSET]


@asynccontextmanager
async def dynamic_client(
    mode: str = "legacy", changed: list[str] | None = None, **overrides: Any
) -> AsyncIterator[Client]:
    gateway = build_gateway(make_settings(dynamic_toolsets=True, **overrides))

    async def on_message(message: Any) -> None:
        if changed is not None and isinstance(message, types.ToolListChangedNotification):
            changed.append(message.method)

    try:
        async with Client(build_server(gateway), mode=mode, message_handler=on_message) as client:
            yield client
    finally:
        await gateway.aclose()


async def names(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools()).tools]


async def test_a_session_starts_small_and_announces_list_changes() -> None:
    async with dynamic_client() as client:
        listed = (await client.list_tools()).tools
        assert [tool.name for tool in listed] == META
        size = listing_bytes(list(listed))
        assert size < DYNAMIC_INITIAL_BUDGET_BYTES, f"the dynamic mode's first tools/list is {size} bytes"
        capabilities = client.server_capabilities
        assert capabilities is not None and capabilities.tools is not None
        assert capabilities.tools.list_changed is True


async def test_enabling_a_toolset_lists_its_tools_and_notifies() -> None:
    changed: list[str] = []
    async with dynamic_client(changed=changed) as client:
        toolsets = (await client.call_tool(LIST_TOOLSETS, {})).structured_content
        reference = next(row for row in toolsets["toolsets"] if row["name"] == "reference")
        assert reference["enabled"] is False and "search_api_reference" in reference["tools"]

        enabled = await client.call_tool(ENABLE_TOOLSET, {"toolset": "reference"})
        assert not enabled.is_error
        assert enabled.structured_content["tools"] == ["search_api_reference", "get_api_reference"]
        with anyio.fail_after(30):
            while not changed:
                await anyio.sleep(0)  # the notification is already sent: let the client's reader run
        assert changed == ["notifications/tools/list_changed"]
        assert await names(client) == [*META, "search_api_reference", "get_api_reference"]
        found = await client.call_tool("search_api_reference", {"query": "speaker labels"})
        assert not found.is_error and found.structured_content["count"] >= 1
        # Enabling it again changes nothing, so nothing is announced.
        await client.call_tool(ENABLE_TOOLSET, {"toolset": "reference"})
        assert changed == ["notifications/tools/list_changed"]
        assert CANARY_KEY not in str(toolsets) + str(enabled.model_dump())


async def test_a_tool_of_a_toolset_not_enabled_is_refused_with_the_way_in() -> None:
    async with dynamic_client() as client:
        with pytest.raises(Exception, match='call enable_toolset with toolset "transcripts" first'):
            await client.call_tool("get_transcript", {"transcript_id": "abc"})
        with pytest.raises(Exception, match="Unknown tool: no_such_tool"):
            await client.call_tool("no_such_tool", {})


async def test_sessions_enable_toolsets_apart() -> None:
    async with dynamic_client() as first, dynamic_client() as second:
        await first.call_tool(ENABLE_TOOLSET, {"toolset": "reference"})
        assert "get_api_reference" in await names(first)
        assert await names(second) == META


async def test_the_server_filters_bound_what_can_be_enabled() -> None:
    async with dynamic_client(toolsets=["reference", "uploads"]) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert listed[ENABLE_TOOLSET].input_schema["properties"]["toolset"]["enum"] == [
            "uploads",
            "reference",
        ]
        rows = (await client.call_tool(LIST_TOOLSETS, {})).structured_content["toolsets"]
        assert [row["name"] for row in rows] == ["uploads", "reference"]
        odd = await client.call_tool(ENABLE_TOOLSET, {"toolset": "uploads", "also": CANARY_KEY})
        assert odd.is_error and odd.content[0].text == "enable_toolset takes only toolset."  # type: ignore[union-attr]
        refused = await client.call_tool(ENABLE_TOOLSET, {"toolset": "transcripts"})
        assert refused.is_error and "Toolsets: uploads, reference." in refused.content[0].text  # type: ignore[union-attr]
        assert await names(client) == META


def test_a_callers_scopes_bound_what_it_sees_and_enables() -> None:
    dynamic = DynamicToolsets(Registry(build_gateway(make_settings()).catalog))
    session = SimpleNamespace(protocol_version="2025-11-25", session=Connection())
    scopes = Scopes(toolsets=frozenset({"uploads"}))
    rows = dynamic._toolsets(session, scopes)["toolsets"]  # type: ignore[arg-type]
    assert [row["name"] for row in rows] == ["uploads"]
    # A tool the caller may not see is left to the runner's "Unknown tool", as without this mode.
    dynamic.check_enabled(session, "get_transcript", scopes)  # type: ignore[arg-type]


async def test_a_2026_client_has_no_session_and_sees_the_whole_catalog() -> None:
    async with dynamic_client(mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        listed = await names(client)
        assert LIST_TOOLSETS not in listed and "transcribe" in listed
        assert len(listed) == len(build_gateway(make_settings()).catalog.tools)


def test_dynamic_toolsets_refuse_stateless_http() -> None:
    with pytest.raises(ValidationError, match="needs sessions to remember enabled toolsets"):
        make_settings(dynamic_toolsets=True, stateless=True)


async def test_the_gate_is_middleware_so_a_call_run_as_a_task_is_refused_too() -> None:
    gateway = build_gateway(make_settings(dynamic_toolsets=True))
    try:
        server = build_server(gateway)
        gate = server.middleware[-1]  # installed before the tasks extension's, so it runs first
        reached: list[str] = []

        async def call_next(ctx: Any) -> Any:
            reached.append(ctx.method)

        params = {"name": "get_transcript", "arguments": {"transcript_id": "abc"}, "task": {"ttl": 60000}}
        ctx = SimpleNamespace(
            method="tools/call",
            params=params,
            protocol_version="2025-11-25",
            session=Connection(),
            request=None,
        )
        with pytest.raises(Exception, match="which this session has not enabled"):
            await gate(ctx, call_next)  # type: ignore[arg-type]
        assert reached == []
        await gate(SimpleNamespace(**{**vars(ctx), "method": "tools/list", "params": None}), call_next)  # type: ignore[arg-type]
        assert reached == ["tools/list"]
    finally:
        await gateway.aclose()


async def test_meta_tool_calls_are_audited_without_argument_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="aai_mcp.audit")
    async with dynamic_client() as client:
        await client.call_tool(ENABLE_TOOLSET, {"toolset": "reference"})
        await client.call_tool(ENABLE_TOOLSET, {"toolset": CANARY_KEY})
    lines = [record.getMessage() for record in caplog.records if record.name == "aai_mcp.audit"]
    assert "token=local tool=enable_toolset outcome=ok toolset=reference" in lines
    assert "token=local tool=enable_toolset outcome=error toolset=-" in lines
    assert not any(CANARY_KEY in line for line in lines)


@pytest.mark.slow
async def test_a_streamable_http_session_keeps_its_toolsets_and_hears_the_change() -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    with serve_in_thread(make_settings(dynamic_toolsets=True)) as base:
        url = f"{base}/mcp"
        async with (
            Client(url, mode="legacy", message_handler=on_message) as first,
            Client(url, mode="legacy") as second,
        ):
            await first.call_tool(ENABLE_TOOLSET, {"toolset": "reference"})
            with anyio.fail_after(30):
                await changed.wait()  # it came on the call's own stream
            assert await names(first) == [*META, "search_api_reference", "get_api_reference"]
            found = await first.call_tool("search_api_reference", {"query": "speaker labels"})
            assert not found.is_error
            assert await names(second) == META
