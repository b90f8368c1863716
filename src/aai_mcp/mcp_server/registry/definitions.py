"""ToolSpec -> MCP tool definition: one flat input schema, annotations, output schema."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from aai_mcp.catalog import Catalog, Param, ToolSpec
from aai_mcp.catalog.model import OPTIONS_ARGUMENT

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


OUTLINE_KEYWORDS = frozenset({"type", "enum", "anyOf"})


def outline(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema as listed: the result's top-level keys (required ones named) with their types,
    and nothing deeper or descriptive. Every result that matches the full schema (outputs.yaml, which
    keeps the prose and the nesting for readers and tests) matches this one; listing the full one cost
    a quarter of the whole tools/list, most of it the transcript schema four times."""
    top = {key: value for key, value in schema.items() if key not in ("description", "properties")}
    properties = schema.get("properties", {})
    if properties:
        top["properties"] = {
            name: {key: value for key, value in sub.items() if key in OUTLINE_KEYWORDS}
            for name, sub in properties.items()
        }
    return top


def _portable_child(key: str, value: Any) -> Any:
    if key in SCHEMA_MAPS and isinstance(value, dict):
        return {name: portable(sub) if isinstance(sub, dict) else sub for name, sub in value.items()}
    if key in SCHEMA_VALUES and isinstance(value, dict):
        return portable(value)
    if key in SCHEMA_LISTS and isinstance(value, list):
        return [portable(sub) if isinstance(sub, dict) else sub for sub in value]
    return value


def accepted_schema(spec: ToolSpec) -> dict[str, Any]:
    """Every argument the tool takes, each at the top level: what the server validates a call
    against (after `options` is unfolded), whether or not the listing folds some of them."""
    return _object_schema(spec.all_params(), {})


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """The schema the listing shows: a folding tool's less common body fields are one `options`
    object, named in its description (see `Fold`)."""
    folded = set(spec.folded)
    listed = {name: param for name, param in spec.all_params().items() if name not in folded}
    extra = {OPTIONS_ARGUMENT: options_schema(spec)} if folded else {}
    return _object_schema(listed, extra)


def options_schema(spec: ToolSpec) -> dict[str, Any]:
    route = spec.route
    return {
        "type": "object",
        "description": (
            f"Any other {route.method} {route.path} field, by name: {', '.join(spec.folded)}. "
            f'Each is checked as upstream defines it; get_api_reference("{route.method} {route.path}") '
            "describes them."
        ),
    }


def _object_schema(params: dict[str, Param], extra: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {**{name: portable(param.json_schema()) for name, param in params.items()}, **extra},
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
        output_schema=portable(outline(catalog.outputs[spec.output])),
        # No annotations.title: the tool's own title says it, and clients prefer that one.
        annotations=types.ToolAnnotations(
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
        execution=None if spec.task_support is None else types.ToolExecution(task_support=spec.task_support),
    )
