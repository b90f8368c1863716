"""Arguments checked against each tool's input schema before anything goes upstream."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match

from aai_mcp.catalog import ToolSpec
from aai_mcp.catalog.model import OPTIONS_ARGUMENT
from aai_mcp.mcp_server.registry import accepted_schema

# How much of a bad value an error quotes: enough to recognise it, never the whole of a huge one.
QUOTE_CHARS = 80
MESSAGE_CHARS = 400
UNKNOWN_NAMES_SHOWN = 5


def quoted(value: Any) -> str:
    """`value` as an error message shows it: its repr, cut to QUOTE_CHARS."""
    text = repr(value)
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "…"


def bounded(message: str, limit: int = MESSAGE_CHARS) -> str:
    return message if len(message) <= limit else message[:limit] + "…"


@cache
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    # JSON Schema patterns are ECMA-262, where a final `$` ends the input; Python's `$` also matches
    # before a trailing newline, so "abc\n" passed ^[A-Za-z0-9_-]{1,128}$ and went into an upstream path.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{quoted(instance)} does not match {pattern!r}")


_Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]


MAX_SAFE_INTEGER = 2**53 - 1


class ArgumentValidator:
    def __init__(self, spec: ToolSpec) -> None:
        self.spec = spec
        self._validator = _Validator(accepted_schema(spec), format_checker=FormatChecker())

    def problem(self, args: dict[str, Any]) -> str | None:
        """None when the arguments are valid, else one sentence naming the bad field."""
        folding = _folding_problem(self.spec, args)
        if folding:
            return bounded(folding)
        args = unfolded(self.spec, args)
        for name, reason in self.spec.refuse.items():
            if name in args:
                return f"Argument '{name}' is not accepted: {reason}"
        # JSON Schema has no way to say "finite" (NaN passes every minimum and maximum) or "fits in a
        # double" (an integer past 2**53 loses digits in JavaScript clients and breaks 64-bit encoders).
        where = _unrepresentable(args)
        if where is not None:
            return bounded(
                f"Invalid argument '{where}': not a finite number within ±{MAX_SAFE_INTEGER} "
                "(NaN, Infinity and larger integers are refused)."
            )
        error = best_match(self._validator.iter_errors(args))
        return None if error is None else bounded(_describe(error))


def unfolded(spec: ToolSpec, args: dict[str, Any]) -> dict[str, Any]:
    """`args` with the fields of a folding tool's `options` object at the top level, where handlers
    and the full schema take them (`problem` said the arguments are valid)."""
    inner = args.get(OPTIONS_ARGUMENT) if spec.fold is not None else None
    if not isinstance(inner, dict):
        return args
    return {**{name: value for name, value in args.items() if name != OPTIONS_ARGUMENT}, **inner}


def _folding_problem(spec: ToolSpec, args: dict[str, Any]) -> str | None:
    if spec.fold is None or OPTIONS_ARGUMENT not in args:
        return None
    inner = args[OPTIONS_ARGUMENT]
    if not isinstance(inner, dict):
        shown = quoted(inner)
        return f"Invalid argument '{OPTIONS_ARGUMENT}': {shown} is not an object of field names and values"
    # Only upstream fields go in `options` (a refused one too, to be refused with its reason).
    stray = [quoted(name) for name in inner if name not in spec.params.body and name not in spec.refuse]
    if stray:
        shown = ", ".join(stray[:UNKNOWN_NAMES_SHOWN])
        return f"Unknown field(s) in {OPTIONS_ARGUMENT}: {shown}. Accepted: {', '.join(spec.params.body)}."
    twice = [quoted(name) for name in inner if name in args]
    if twice:
        shown = ", ".join(twice[:UNKNOWN_NAMES_SHOWN])
        return f"Given both at the top level and in {OPTIONS_ARGUMENT}: {shown}."
    return None


def _unrepresentable(value: Any, path: str = "") -> str | None:
    """The path of the first NaN, ±Infinity or integer beyond ±(2**53 - 1) anywhere in `value`, else None
    (the I-JSON range, RFC 7493: what every JSON client reads exactly)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path or "(arguments)"
    if isinstance(value, int) and not isinstance(value, bool):
        return None if abs(value) <= MAX_SAFE_INTEGER else path or "(arguments)"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _unrepresentable(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return bounded(found, QUOTE_CHARS)
    return None


def _describe(error: ValidationError) -> str:
    field = bounded(".".join(str(part) for part in error.absolute_path), QUOTE_CHARS)
    if error.validator == "additionalProperties" and not field:
        return f"Unknown argument(s): {_unknown(error)}. {_known_hint(error)}"
    if error.validator == "required" and not field:
        return f"Missing required argument: {error.message}"
    # jsonschema quotes the whole bad value (`repr`), however large: quote a prefix instead.
    message = error.message.replace(repr(error.instance), quoted(error.instance), 1)
    if field:
        return f"Invalid argument '{field}': {message}"
    return f"Invalid arguments: {message}"


def _unknown(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance if isinstance(error.instance, dict) else {}
    names = [quoted(name) for name in instance if name not in schema.get("properties", {})]
    more = len(names) - UNKNOWN_NAMES_SHOWN
    return ", ".join(names[:UNKNOWN_NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _known_hint(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = sorted(schema.get("properties", {}))
    return f"Accepted: {', '.join(known)}." if known else ""
