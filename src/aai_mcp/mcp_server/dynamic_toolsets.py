"""`--dynamic-toolsets`: a session starts with two meta tools and enables toolsets on request.

Like github-mcp-server's `--dynamic-toolsets`: tools/list first shows `list_toolsets` and
`enable_toolset` (a few hundred bytes instead of the whole catalog); `enable_toolset` adds a toolset's
tools to this session's list and sends `notifications/tools/list_changed`, so the client lists again.

The enabled set belongs to the MCP session (stdio, stateful Streamable HTTP, SSE), kept beside the
SDK's session object and gone with it. Where there is no session there is nowhere to keep it:
- stateless Streamable HTTP makes a new session per request, so the setting refuses that combination
  (config/settings.py) rather than forget every enable at once;
- a 2026-07-28 client has no session either, and hears list changes only on `subscriptions/listen`,
  which this server does not serve: it is offered the whole catalog, as without the setting.
A tool whose toolset the session has not enabled is refused as a tool call, naming the toolset, and
only when the caller may see it (the registry's one check; no oracle for hidden tools).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from weakref import WeakKeyDictionary

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from aai_mcp.access.principal import Principal
from aai_mcp.access.scopes import Scopes
from aai_mcp.mcp_server.apps.capability import AppsServer
from aai_mcp.mcp_server.registry import Registry

audit = logging.getLogger("aai_mcp.audit")

LIST_TOOLSETS = "list_toolsets"
ENABLE_TOOLSET = "enable_toolset"
_TOOLSETS_OUTPUT = {
    "type": "object",
    "required": ["toolsets"],
    "properties": {"toolsets": {"type": "array", "items": {"type": "object"}}},
}
_ENABLED_OUTPUT = {
    "type": "object",
    "required": ["toolset", "tools", "next_step"],
    "properties": {
        "toolset": {"type": "string"},
        "tools": {"type": "array", "items": {"type": "string"}},
        "next_step": {"type": "string"},
    },
}


class DynamicToolsets:
    """The meta tools and each session's enabled toolsets (see the module docstring)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._enabled: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()
        offered = [name for name in registry.catalog.toolsets if self._tools_of(name, None)]
        self.definitions = {tool.name: tool for tool in _meta_tools(offered)}

    def install(self, server: AppsServer, principal_of: Callable[[Any], Principal]) -> None:
        """Announce tools.listChanged and gate tools/call (as middleware, so that a call run as an
        MCP Task is gated too: install before the tasks extension)."""

        async def gate(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
            params = ctx.params if isinstance(ctx.params, Mapping) else None
            name = params.get("name") if params is not None and ctx.method == "tools/call" else None
            if isinstance(name, str) and self.applies(ctx):
                self.check_enabled(ctx, name, principal_of(ctx).scopes)
            return await call_next(ctx)

        server.middleware.append(gate)
        server.tools_list_changes = True

    def applies(self, ctx: ServerRequestContext[Any]) -> bool:
        """The request belongs to a session that can remember toolsets and hear list changes."""
        return ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS

    def listed(self, ctx: ServerRequestContext[Any], scopes: Scopes | None) -> list[types.Tool]:
        enabled = self._enabled.get(_connection(ctx), set())
        tools = [
            self.registry.definitions[name]
            for name in self.registry.specs
            if self.registry.specs[name].toolset in enabled and self.registry.visible(name, scopes)
        ]
        return [*self.definitions.values(), *tools]

    def check_enabled(self, ctx: ServerRequestContext[Any], name: str, scopes: Scopes | None) -> None:
        """Refuse a call of a catalog tool the caller may see but this session has not enabled."""
        spec = self.registry.visible(name, scopes)
        if spec is None or spec.toolset in self._enabled.get(_connection(ctx), set()):
            return  # an unknown or hidden tool is refused by the runner, like without this mode
        raise MCPError(
            INVALID_PARAMS,
            f"{name} is in toolset {spec.toolset}, which this session has not enabled: "
            f'call enable_toolset with toolset "{spec.toolset}" first.',
        )

    async def call(
        self, ctx: ServerRequestContext[Any], name: str, args: dict[str, Any], principal: Principal
    ) -> types.CallToolResult:
        """A meta tool's answer, audited like every tool call (never an argument value: a toolset
        name is logged only once it is known to be one of ours)."""
        result, toolset = await self._answer(ctx, name, args, principal.scopes)
        outcome = "error" if result.is_error else "ok"
        audit.info("token=%s tool=%s outcome=%s toolset=%s", principal.id, name, outcome, toolset or "-")
        return result

    async def _answer(
        self, ctx: ServerRequestContext[Any], name: str, args: dict[str, Any], scopes: Scopes | None
    ) -> tuple[types.CallToolResult, str | None]:
        allowed = {"toolset"} if name == ENABLE_TOOLSET else set()
        if set(args) - allowed:
            takes = "only toolset" if allowed else "no arguments"
            return _error(f"{name} takes {takes}."), None
        if name == LIST_TOOLSETS:
            return _result(self._toolsets(ctx, scopes)), None
        toolset = args.get("toolset")
        tools = self._tools_of(toolset, scopes) if isinstance(toolset, str) else []
        if not tools:
            known = ", ".join(entry["name"] for entry in self._toolsets(ctx, scopes)["toolsets"])
            return _error(f"No toolset by that name is offered to you. Toolsets: {known}."), None
        assert isinstance(toolset, str)
        enabled = self._enabled.setdefault(_connection(ctx), set())
        if toolset not in enabled:
            enabled.add(toolset)
            # On this request's stream: over Streamable HTTP it then reaches a client that never
            # opened the standalone GET stream, with the answer that caused it.
            changed = types.ToolListChangedNotification()
            await ctx.session.send_notification(changed, related_request_id=ctx.request_id)
        next_step = "List tools again (the server sent notifications/tools/list_changed), then call one."
        return _result({"toolset": toolset, "tools": tools, "next_step": next_step}), toolset

    def _toolsets(self, ctx: ServerRequestContext[Any], scopes: Scopes | None) -> dict[str, Any]:
        enabled = self._enabled.get(_connection(ctx), set())
        rows = []
        for name, toolset in self.registry.catalog.toolsets.items():
            tools = self._tools_of(name, scopes)
            if tools:
                entry = {"name": name, "description": toolset.description, "tools": tools}
                rows.append({**entry, "enabled": name in enabled})
        return {"toolsets": rows}

    def _tools_of(self, toolset: str, scopes: Scopes | None) -> list[str]:
        specs = self.registry.specs
        return [n for n in specs if specs[n].toolset == toolset and self.registry.visible(n, scopes)]


def _connection(ctx: ServerRequestContext[Any]) -> Any:
    """What lives as long as the MCP session: the SDK builds `ctx.session` anew per request, around
    the one connection object of the session (stdio, or a Streamable HTTP session id)."""
    # A private attribute: the SDK offers no public handle on the connection (mcp 2.x, 2026-11).
    return getattr(ctx.session, "_connection", ctx.session)


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def _result(payload: dict[str, Any]) -> types.CallToolResult:
    text = json.dumps(payload, separators=(",", ":"))
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=payload)


def _meta_tools(toolsets: list[str]) -> list[types.Tool]:
    listing = types.Tool(
        name=LIST_TOOLSETS,
        title="List toolsets",
        description="This server's toolsets: name, what they do, their tools and whether this session "
        "enabled them. Next, enable_toolset to use one.",
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
        output_schema=_TOOLSETS_OUTPUT,
        annotations=types.ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )
    enabling = types.Tool(
        name=ENABLE_TOOLSET,
        title="Enable a toolset",
        description="Add a toolset's tools to this session's tool list (the server sends "
        "notifications/tools/list_changed). list_toolsets says what each holds. Transcription: transcripts.",
        input_schema={
            "type": "object",
            "properties": {"toolset": {"type": "string", "enum": toolsets}},
            "required": ["toolset"],
            "additionalProperties": False,
        },
        output_schema=_ENABLED_OUTPUT,
        annotations=types.ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )
    return [listing, enabling]
