"""Arguments checked against each tool's input schema before anything goes upstream."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match

from aai_mcp.catalog import ToolSpec
from aai_mcp.registry import input_schema


@cache
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    # JSON Schema patterns are ECMA-262, where a final `$` ends the input; Python's `$` also matches
    # before a trailing newline, so "abc\n" passed ^[A-Za-z0-9_-]{1,128}$ and went into an upstream path.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]


class ArgumentValidator:
    def __init__(self, spec: ToolSpec) -> None:
        self.spec = spec
        self._validator = _Validator(input_schema(spec), format_checker=FormatChecker())

    def problem(self, args: dict[str, Any]) -> str | None:
        """None when the arguments are valid, else one sentence naming the bad field."""
        for name, reason in self.spec.refuse.items():
            if name in args:
                return f"Argument '{name}' is not accepted: {reason}"
        error = best_match(self._validator.iter_errors(args))
        return None if error is None else _describe(error)


def _describe(error: ValidationError) -> str:
    field = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties" and not field:
        return f"Unknown argument(s): {error.message.split('(')[-1].rstrip(')')}. {_known_hint(error)}"
    if error.validator == "required" and not field:
        return f"Missing required argument: {error.message}"
    if field:
        return f"Invalid argument '{field}': {error.message}"
    return f"Invalid arguments: {error.message}"


def _known_hint(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = sorted(schema.get("properties", {}))
    return f"Accepted: {', '.join(known)}." if known else ""
