"""ToolSpec -> MCP tool definition: one flat input schema, annotations, output schema."""

from __future__ import annotations

from collections.abc import Callable
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
    node = {key: _subschemas(key, value, portable) for key, value in schema.items()}
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


OUTLINE_KEYWORDS = frozenset({"type", "required"})


def outline(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema as listed: an object and the keys every result has (`required`), nothing
    more. Every result that matches the full schema in outputs.yaml (which keeps the types, optional
    keys, nesting and prose, for readers and the tests that check results against it) matches this
    one. Listing the full schemas cost a quarter of the whole tools/list, most of it the transcript
    schema four times; what a model needs of a result (next_index, timed_out...) the tool
    descriptions name, and every result carries it in its text too."""
    return {key: value for key, value in schema.items() if key in OUTLINE_KEYWORDS}


def _subschemas(key: str, value: Any, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """`value` with `change` applied to each schema in it, when `key` holds schemas. Only schema
    positions: under `properties` the keys are names (a property may be called "pattern"), and `enum`
    or `default` values are data."""
    if key in SCHEMA_MAPS and isinstance(value, dict):
        return {name: change(sub) if isinstance(sub, dict) else sub for name, sub in value.items()}
    if key in SCHEMA_VALUES and isinstance(value, dict):
        return change(value)
    if key in SCHEMA_LISTS and isinstance(value, list):
        return [change(sub) if isinstance(sub, dict) else sub for sub in value]
    return value


# Bounds the server enforces on every call that tell a model nothing it needs to write a good call
# (an id's character set, a length or count bound): the listing leaves them out, the validator keeps them.
SERVER_BOUNDS = frozenset({"pattern", "minLength", "maxLength", "minItems", "maxItems"})


def accepted_schema(spec: ToolSpec) -> dict[str, Any]:
    """Every argument the tool takes, each at the top level and with every bound: what the server
    validates a call against (after `options` is unfolded), whatever the listing leaves out."""
    params = spec.all_params()
    return _object_schema({name: portable(param.json_schema()) for name, param in params.items()}, params)


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """The schema the listing shows: a folding tool's less common body fields are one `options`
    object, named in its description (see `Fold`)."""
    folded = set(spec.folded)
    listed = {name: param for name, param in spec.all_params().items() if name not in folded}
    properties = {name: _without_bounds(portable(param.json_schema())) for name, param in listed.items()}
    if folded:
        properties[OPTIONS_ARGUMENT] = options_schema(spec)
    return _object_schema(properties, listed)


def options_schema(spec: ToolSpec) -> dict[str, Any]:
    route = f"{spec.route.method} {spec.route.path}"
    if spec.inherit is not None:  # the same fields as the tool it inherits them from: named there
        named = f"Any other {spec.inherit.tool} field (its options names them)"
    else:
        named = f"Other {route} fields: {', '.join(spec.folded)}"
    return {"type": "object", "description": f'{named}. get_api_reference("{route}") describes each.'}


def _object_schema(properties: dict[str, Any], params: dict[str, Param]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [name for name, param in params.items() if param.required]
    if required:
        schema["required"] = required
    return schema


def _without_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in schema.items() if key not in SERVER_BOUNDS}
    return {key: _subschemas(key, value, _without_bounds) for key, value in kept.items()}


def listed_annotations(spec: ToolSpec) -> types.ToolAnnotations:
    """The hints that say something: MCP defines readOnlyHint false, destructiveHint true,
    idempotentHint false and openWorldHint true when absent, and destructive/idempotent mean nothing
    for a read-only tool; every hint is still stated in the YAML. No annotations.title either: the
    tool's own title says it, and clients prefer that one."""
    hints = spec.annotations
    read_only = hints.read_only
    return types.ToolAnnotations(
        read_only_hint=True if read_only else None,
        destructive_hint=None if read_only or hints.destructive else False,
        idempotent_hint=True if hints.idempotent and not read_only else None,
        open_world_hint=None if hints.open_world else False,
    )


def tool_definition(spec: ToolSpec, catalog: Catalog) -> types.Tool:
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=input_schema(spec),
        output_schema=portable(outline(catalog.outputs[spec.output])),
        annotations=listed_annotations(spec),
        execution=None if spec.task_support is None else types.ToolExecution(task_support=spec.task_support),
    )
