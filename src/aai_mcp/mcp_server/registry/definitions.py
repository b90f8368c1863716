"""ToolSpec -> MCP tool definition: one flat input schema, annotations, output schema."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from aai_mcp.catalog import Catalog, ToolSpec

# Keywords that only constrain one JSON type: when a `type` array is split into one branch per
# type, each branch takes the keywords of its own type; the rest (description, enum...) stay put.
TYPE_KEYWORDS: dict[str, frozenset[str]] = {
    "string": frozenset("minLength maxLength pattern format contentMediaType contentEncoding".split()),
    "number": frozenset("minimum maximum exclusiveMinimum exclusiveMaximum multipleOf".split()),
    "array": frozenset(
        "items prefixItems contains minItems maxItems uniqueItems minContains maxContains".split()
    ),
    "object": frozenset(
        "properties patternProperties additionalProperties propertyNames required minProperties "
        "maxProperties dependentRequired dependentSchemas".split()
    ),
}
TYPE_KEYWORDS["integer"] = TYPE_KEYWORDS["number"]
ALL_TYPE_KEYWORDS = frozenset().union(*TYPE_KEYWORDS.values())
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
SCHEMA_VALUES = ("items", "additionalProperties", "contains", "not", "propertyNames", "if", "then", "else")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def portable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every `type` array (at any depth) split into `anyOf` branches of one type each.

    A `type` array is valid JSON Schema, but clients that map tool schemas onto a single-type
    dialect (Gemini's OpenAPI subset) reject the tool or drop the constraint; MCP Inspector's
    schema-portability report warns about each one. The `anyOf` form means the same thing.
    """
    node = {key: _portable_child(key, value) for key, value in schema.items()}
    declared = node.get("type")
    if not isinstance(declared, list):
        return node
    branches = [
        {"type": kind, **{key: node[key] for key in TYPE_KEYWORDS.get(kind, ()) if key in node}}
        for kind in declared
    ]
    rest = {key: value for key, value in node.items() if key != "type" and key not in ALL_TYPE_KEYWORDS}
    if "anyOf" in rest:  # keep the schema's own anyOf: both must hold
        return {**rest, "allOf": [*rest.get("allOf", []), {"anyOf": branches}]}
    return {**rest, "anyOf": branches}


def _portable_child(key: str, value: Any) -> Any:
    if key in SCHEMA_MAPS and isinstance(value, dict):
        return {name: portable(sub) if isinstance(sub, dict) else sub for name, sub in value.items()}
    if key in SCHEMA_VALUES and isinstance(value, dict):
        return portable(value)
    if key in SCHEMA_LISTS and isinstance(value, list):
        return [portable(sub) if isinstance(sub, dict) else sub for sub in value]
    return value


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    params = spec.all_params()
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: portable(param.json_schema()) for name, param in params.items()},
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
        output_schema=portable(catalog.outputs[spec.output]),
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
        execution=None if spec.task_support is None else types.ToolExecution(task_support=spec.task_support),
    )
