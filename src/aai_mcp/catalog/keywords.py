"""JSON Schema keywords a tool schema may use: anything else is a typo or a YAML slip.

A flow mapping such as `{type: string, description: What to call next, given the status.}` splits
at the comma into a stray key `given the status.`; a JSON Schema validator ignores unknown keys, so
only this check catches it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

ANNOTATIONS = frozenset(
    "title description default examples deprecated readOnly writeOnly $comment $schema $id $anchor "
    "$defs $vocabulary $dynamicAnchor".split()
)
ASSERTIONS = frozenset(
    "type enum const multipleOf maximum exclusiveMaximum minimum exclusiveMinimum maxLength minLength "
    "pattern format contentMediaType contentEncoding contentSchema maxItems minItems uniqueItems "
    "maxContains minContains maxProperties minProperties required dependentRequired allOf anyOf oneOf "
    "not items prefixItems contains unevaluatedItems properties patternProperties additionalProperties "
    "unevaluatedProperties propertyNames dependentSchemas $ref $dynamicRef if then else".split()
)
KNOWN = ANNOTATIONS | ASSERTIONS
_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_VALUES = ("items", "additionalProperties", "contains", "not", "propertyNames", "if", "then", "else")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def unknown_keywords(schema: Any) -> list[str]:
    """'path: keyword' for every key of a schema position that is not a JSON Schema keyword."""
    return [
        f"{path or '(root)'}: {key!r}"
        for path, sub in _positions(schema, "")
        for key in sorted(sub)
        if key not in KNOWN
    ]


def _positions(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(schema, dict):
        return
    yield path, schema
    for key in _MAPS:
        children = schema.get(key)
        if isinstance(children, dict):
            for name, sub in children.items():
                yield from _positions(sub, f"{path}.{key}.{name}")
    for key in _VALUES:
        yield from _positions(schema.get(key), f"{path}.{key}")
    for key in _LISTS:
        children = schema.get(key)
        if isinstance(children, list):
            for index, sub in enumerate(children):
                yield from _positions(sub, f"{path}.{key}[{index}]")
