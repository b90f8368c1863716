"""Which tools this server offers, as MCP definitions, after its filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from aai_mcp.access.scopes import Scopes
from aai_mcp.catalog import Catalog, ToolSpec
from aai_mcp.mcp_server.apps.app_views import with_view
from aai_mcp.mcp_server.registry.definitions import accepted_schema, input_schema, tool_definition


@dataclass
class Registry:
    """The catalog's tools that pass the server's filters, with their definitions built once.

    One pipeline decides: a tool is offered when `scopes.allows(spec)` says so; a caller's token
    scopes then narrow that further per request, never widen it. Every way in (tools/list,
    tools/call, resources, prompts) asks `visible`, and a call also asks `lacking` for the tools
    it uses: the one check.
    """

    catalog: Catalog
    scopes: Scopes = field(default_factory=Scopes)
    specs: dict[str, ToolSpec] = field(init=False)
    definitions: dict[str, types.Tool] = field(init=False)

    def __post_init__(self) -> None:
        self.specs = {
            name: spec for name, spec in self.catalog.tools.items() if self.scopes.allows(spec) is None
        }
        self.definitions = {
            name: with_view(tool_definition(spec, self.catalog)) for name, spec in self.specs.items()
        }

    def get(self, name: str) -> ToolSpec | None:
        return self.specs.get(name)

    def visible(self, name: str, scopes: Scopes | None) -> ToolSpec | None:
        """The tool when this server offers it and a caller with `scopes` may use it, else None.

        A tool is usable when it and every tool it always uses pass; tools it uses only for some
        arguments are checked per call (`lacking`), so transcribe stays usable with an audio_url.
        """
        spec = self.specs.get(name)
        if spec is None or (scopes is not None and scopes.allows(spec) is not None):
            return None
        if self.lacking(spec, scopes, None) is not None:
            return None
        return spec

    def lacking(self, spec: ToolSpec, scopes: Scopes | None, args: Mapping[str, Any] | None) -> str | None:
        """None when a call of `spec` with `args` may use every tool it uses, else why not."""
        for use in spec.uses:
            given = [name for name in use.when if args is not None and args.get(name) is not None]
            if use.when and not given:
                continue
            how = f"{spec.name} with {' or '.join(given)}" if given else spec.name
            used = self.specs.get(use.tool)
            if scopes is None and used is None:
                return f"{how} needs {use.tool}, which this server does not offer"
            # A caller with scopes hears the same whichever hides the tool (the server's filters or
            # its scopes), as tools/call of that tool answers Unknown tool either way: no oracle.
            if scopes is not None and (used is None or scopes.allows(used) is not None):
                return f"{how} needs {use.tool}, which this caller may not use"
        return None

    def listed(self, scopes: Scopes | None) -> list[types.Tool]:
        """The definitions a caller with `scopes` sees (all of them when it has no scopes)."""
        return [self.definitions[name] for name in self.specs if self.visible(name, scopes) is not None]


__all__ = ["Registry", "accepted_schema", "input_schema", "tool_definition"]
