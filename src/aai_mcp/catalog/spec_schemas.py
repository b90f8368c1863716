"""JSON Schema reading of OpenAPI specs: $ref, allOf and anyOf/oneOf resolved, and the ways a tool's
parameter schema accepts values a spec's schema does not describe. Used by `aai-mcp catalog diff`
and the spec-conformance tests alike, so both judge a parameter by the same rules."""

from __future__ import annotations

from typing import Any


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Follow local $refs; sibling keywords (default, description) are kept on top."""
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        schema = {**target, **siblings}
    return schema


def flatten(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Merge allOf branches into one object schema (ENDPOINTS.md §6, Gotcha 1).

    TranscriptParams = allOf[{audio_url}, TranscriptOptionalParams] with additionalProperties:false
    on every branch and at the top, so as written no instance can satisfy it.
    """
    schema = resolve(schema, document)
    if "allOf" not in schema:
        return schema
    merged = {key: value for key, value in schema.items() if key != "allOf"}
    properties = dict(merged.get("properties", {}))
    required = list(merged.get("required", []))
    for part in schema["allOf"]:
        part = flatten(part, document)
        properties.update(part.get("properties", {}))
        required += [name for name in part.get("required", []) if name not in required]
    merged["properties"] = properties
    merged["required"] = required
    return merged


def alternatives(schema: dict[str, Any], document: dict[str, Any]) -> list[dict[str, Any]]:
    """The branches a value may match: anyOf/oneOf expanded, refs resolved, allOf flattened."""
    schema = flatten(schema, document)
    branches = schema.get("anyOf", []) + schema.get("oneOf", [])
    if not branches:
        return [schema]
    found: list[dict[str, Any]] = []
    for branch in branches:
        found += alternatives(branch, document)
    return found


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    for python_type, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, python_type):
            return name
    return "array" if isinstance(value, list) else "object"


def accepted_types(schema: dict[str, Any], document: dict[str, Any]) -> set[str] | None:
    """JSON types a spec schema accepts; None when it does not constrain the type."""
    types: set[str] = set()
    for branch in alternatives(schema, document):
        found = _branch_types(branch)
        if found is None:
            return None
        types |= found
    return types


def _branch_types(branch: dict[str, Any]) -> set[str] | None:
    if "const" in branch:
        return {json_type(branch["const"])}
    if "type" in branch:
        declared = branch["type"]
        types = {declared} if isinstance(declared, str) else set(declared)
        if branch.get("nullable"):  # OpenAPI 3.0
            types.add("null")
        return types
    if "enum" in branch:
        return {json_type(value) for value in branch["enum"]}
    if "properties" in branch:
        return {"object"}
    return None


def allowed_values(schema: dict[str, Any], document: dict[str, Any]) -> list[Any] | None:
    """The values a spec schema is limited to (enum/const, across branches); None when open."""
    values: list[Any] = []
    for branch in alternatives(schema, document):
        if "enum" in branch:
            values += branch["enum"]
        elif "const" in branch:
            values.append(branch["const"])
        elif branch.get("type") == "null":
            values.append(None)
        else:
            return None
    return values


def deprecated_properties(schema: dict[str, Any], document: dict[str, Any]) -> set[str]:
    return {
        name
        for name, sub in schema.get("properties", {}).items()
        if resolve(sub, document).get("deprecated") is True
    }


def schema_problems(
    tool: dict[str, Any], spec: dict[str, Any], document: dict[str, Any], where: str
) -> list[str]:
    """Ways a tool's parameter schema accepts values the spec's schema does not describe.

    Checked: types (integer fits number), enums (the tool's must be a subset, and present when
    the spec has one), numeric bounds, and recursively array items and object properties.
    """
    problems = _type_problems(tool, spec, document, where)
    problems += _enum_problems(tool, spec, document, where)
    branches = alternatives(spec, document)
    if len(branches) == 1:
        problems += _bound_problems(tool, branches[0], where)
        problems += _required_problems(tool, branches[0], where)
    if "items" in tool:
        spec_items = [branch["items"] for branch in branches if "items" in branch]
        if spec_items:
            problems += schema_problems(tool["items"], _union(spec_items), document, f"{where}[]")
    for name, sub in tool.get("properties", {}).items():
        candidates = [b["properties"][name] for b in branches if name in b.get("properties", {})]
        if candidates:
            problems += schema_problems(sub, _union(candidates), document, f"{where}.{name}")
        elif not any(_free_form(branch) for branch in branches):
            problems.append(f"{where}.{name}: not a property in the spec")
    return problems


def _type_problems(
    tool: dict[str, Any], spec: dict[str, Any], document: dict[str, Any], where: str
) -> list[str]:
    spec_types = accepted_types(spec, document)
    declared = tool.get("type")
    if spec_types is None or declared is None:
        return []
    tool_types = {declared} if isinstance(declared, str) else set(declared)
    if "number" in spec_types:
        spec_types = spec_types | {"integer"}
    extra = sorted(tool_types - spec_types)
    return [f"{where}: type {extra} not accepted by the spec ({sorted(spec_types)})"] if extra else []


def _enum_problems(
    tool: dict[str, Any], spec: dict[str, Any], document: dict[str, Any], where: str
) -> list[str]:
    spec_values = allowed_values(spec, document)
    if spec_values is None:
        return []
    tool_values = tool.get("enum", [tool["const"]] if "const" in tool else None)
    if tool_values is None:
        return [f"{where}: the spec limits values to {spec_values}, the tool has no enum"]
    extra = [value for value in tool_values if value not in spec_values]
    return [f"{where}: enum values {extra} are not in the spec's {spec_values}"] if extra else []


def _bound_problems(tool: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    problems = []
    if "minimum" in spec and tool.get("minimum", float("-inf")) < spec["minimum"]:
        problems.append(f"{where}: minimum {tool.get('minimum')} is below the spec's {spec['minimum']}")
    if "maximum" in spec and tool.get("maximum", float("inf")) > spec["maximum"]:
        problems.append(f"{where}: maximum {tool.get('maximum')} is above the spec's {spec['maximum']}")
    return problems


def _required_problems(tool: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    if "properties" not in tool:
        return []
    missing = [name for name in spec.get("required", []) if name not in tool.get("required", [])]
    return [f"{where}: the spec requires {missing}, the tool does not"] if missing else []


def _union(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}


def _free_form(branch: dict[str, Any]) -> bool:
    return "properties" not in branch and branch.get("additionalProperties") is not False
