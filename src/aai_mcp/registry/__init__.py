"""Which tools this server offers, as MCP definitions."""

from __future__ import annotations

from dataclasses import dataclass, field

import mcp_types as types

from aai_mcp.catalog import Catalog, ToolSpec
from aai_mcp.registry.definitions import input_schema, tool_definition


@dataclass
class Registry:
    """The catalog's tools after filtering, with their definitions built once."""

    catalog: Catalog
    specs: dict[str, ToolSpec] = field(init=False)
    definitions: list[types.Tool] = field(init=False)

    def __post_init__(self) -> None:
        self.specs = dict(self.catalog.tools)
        self.definitions = [tool_definition(spec, self.catalog) for spec in self.specs.values()]

    def get(self, name: str) -> ToolSpec | None:
        return self.specs.get(name)


__all__ = ["Registry", "input_schema", "tool_definition"]
