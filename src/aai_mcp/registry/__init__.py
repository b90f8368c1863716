"""Which tools this server offers, as MCP definitions, after its filters."""

from __future__ import annotations

from dataclasses import dataclass, field

import mcp_types as types

from aai_mcp.access.scopes import Scopes
from aai_mcp.catalog import Catalog, ToolSpec
from aai_mcp.registry.definitions import input_schema, tool_definition


@dataclass
class Registry:
    """The catalog's tools that pass the server's filters, with their definitions built once.

    One pipeline decides: a tool is offered when `scopes.allows(spec)` says so; a caller's token
    scopes then narrow that further per request, never widen it.
    """

    catalog: Catalog
    scopes: Scopes = field(default_factory=Scopes)
    specs: dict[str, ToolSpec] = field(init=False)
    definitions: dict[str, types.Tool] = field(init=False)

    def __post_init__(self) -> None:
        self.specs = {
            name: spec for name, spec in self.catalog.tools.items() if self.scopes.allows(spec) is None
        }
        self.definitions = {name: tool_definition(spec, self.catalog) for name, spec in self.specs.items()}

    def get(self, name: str) -> ToolSpec | None:
        return self.specs.get(name)

    def listed(self, scopes: Scopes | None) -> list[types.Tool]:
        """The definitions a caller with `scopes` sees (all of them when it has no scopes)."""
        if scopes is None:
            return list(self.definitions.values())
        return [self.definitions[name] for name, spec in self.specs.items() if scopes.allows(spec) is None]


__all__ = ["Registry", "input_schema", "tool_definition"]
