"""Structured outputs: a deterministic value that conforms to the caller's JSON schema, as a model
constrained by `response_format: {"type": "json_schema"}` would give. Every declared property is
filled (not only the required ones) so an answer looks like a model's; bounds (minItems, minLength,
minimum) are met; `$ref` into `$defs`/`definitions` is followed. A `pattern` is not generated for:
the value is then whatever the type gives, so a client's own validation can be seen to catch it."""

from __future__ import annotations

from typing import Any

# Nesting followed before a value is cut short (a recursive $ref would otherwise never end).
MAX_DEPTH = 12
FORMATS = {
    "date": "2026-10-01",
    "date-time": "2026-10-01T12:00:00Z",
    "time": "12:00:00Z",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
SCALARS: dict[str, Any] = {"boolean": False, "null": None}


def conforming_instance(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A value `schema` accepts (None for a schema that is not an object, or nested too deep)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    schema = _resolved(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return conforming_instance(schema[key][0], root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        schema = _merged(schema, root)
    kind = _kind(schema)
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        return _array(schema, root, depth)
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return _number(schema, kind)
    return SCALARS.get(str(kind))


def _resolved(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part) if isinstance(target, dict) else None
    return target if isinstance(target, dict) else {}


def _merged(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = _resolved(part, root) if isinstance(part, dict) else {}
        merged.setdefault("type", part.get("type"))
        merged["properties"] = {**(part.get("properties") or {}), **(merged.get("properties") or {})}
        merged["required"] = [*(merged.get("required") or []), *(part.get("required") or [])]
    return merged


def _kind(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        return kinds[0] if kinds else None
    if kind is None and "properties" in schema:
        return "object"
    return kind


def _object(schema: dict[str, Any], root: Any, depth: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    names = list(properties) + [n for n in schema.get("required") or [] if n not in properties]
    return {name: conforming_instance(properties.get(name, {}), root, depth + 1) for name in names}


def _array(schema: dict[str, Any], root: Any, depth: int) -> list[Any]:
    declared = schema.get("prefixItems")
    prefix: list[Any] = declared if isinstance(declared, list) else []
    count = max(int(schema.get("minItems") or 0), len(prefix), 1)
    if isinstance(schema.get("maxItems"), int):
        count = min(count, schema["maxItems"])
    items = schema.get("items") if isinstance(schema.get("items"), dict) else {"type": "string"}
    return [
        conforming_instance(prefix[i] if i < len(prefix) else items, root, depth + 1) for i in range(count)
    ]


def _string(schema: dict[str, Any]) -> str:
    text = FORMATS.get(str(schema.get("format")), "simulated")
    low = int(schema.get("minLength") or 0)
    if len(text) < low:
        text += "x" * (low - len(text))
    high = schema.get("maxLength")
    return text[:high] if isinstance(high, int) else text


def _number(schema: dict[str, Any], kind: str) -> int | float:
    value: float = 0
    if isinstance(schema.get("minimum"), int | float):
        value = max(value, schema["minimum"])
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        value = max(value, schema["exclusiveMinimum"] + 1)
    if isinstance(schema.get("maximum"), int | float):
        value = min(value, schema["maximum"])
    return int(value) if kind == "integer" else float(value)
