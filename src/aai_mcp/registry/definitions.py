"""ToolSpec -> MCP tool definition: one flat input schema, annotations, output schema."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from aai_mcp.catalog import Catalog, ToolSpec


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    params = spec.all_params()
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: param.json_schema() for name, param in params.items()},
        "additionalProperties": False,
    }
    required = [name for name, param in params.items() if param.required]
    if required:
        schema["required"] = required
    return schema


def tool_definition(spec: ToolSpec, catalog: Catalog) -> types.Tool:
    hints = spec.annotations
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=input_schema(spec),
        output_schema=catalog.outputs[spec.output],
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
    )
