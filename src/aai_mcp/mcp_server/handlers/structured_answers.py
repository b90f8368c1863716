"""Structured outputs for llm_chat_completion and ask_transcript: the caller's JSON schema checked
before it is sent (bounded, a valid JSON Schema), and the model's answer parsed and validated against
it after. The request shape is the gateway's `response_format` (llm-gateway.yml `ResponseFormat`:
`{"type": "json_schema", "json_schema": {"name", "schema", "strict"?}}`; the SDK passes it through
unvalidated, ENDPOINTS-SDK-2026-10.md §4.2)."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from aai_mcp.caller_input import ToolInputError
from aai_mcp.upstream import UpstreamError
from aai_mcp.upstream.errors import ErrorKind

# Largest schema (as compact JSON) a call may send: generous for any answer shape, and it bounds
# the meta-schema check and what the gateway is asked to follow.
MAX_SCHEMA_CHARS = 32_000
EXCERPT_CHARS = 300


def answer_schema(args: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema the caller asked the answer to follow, checked; None without response_format."""
    response_format = args.get("response_format")
    if response_format is None:
        return None
    schema = response_format["json_schema"]["schema"]  # required by the parameter's own schema
    if schema.get("type") != "object":
        # The gateway's providers take an object at the top (OpenAI's strict mode requires it), and
        # structuredContent's `parsed` is one.
        raise ToolInputError('response_format.json_schema.schema must describe an object: "type": "object".')
    size = len(json.dumps(schema, separators=(",", ":")))
    if size > MAX_SCHEMA_CHARS:
        raise ToolInputError(
            f"response_format.json_schema.schema is {size:,} characters of JSON; at most "
            f"{MAX_SCHEMA_CHARS:,} are accepted. Simplify the schema (fewer properties or descriptions)."
        )
    problem = schema_problem(json.dumps(schema, sort_keys=True))
    if problem is not None:
        raise ToolInputError(f"response_format.json_schema.schema is not a valid JSON Schema: {problem}")
    return dict(schema)


@functools.lru_cache(maxsize=64)
def schema_problem(schema_json: str) -> str | None:
    try:
        Draft202012Validator.check_schema(json.loads(schema_json))
    except SchemaError as exc:
        return exc.message[:EXCERPT_CHARS]
    return None


def parsed_answer(completion: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The model's answer as the JSON value the schema describes; a bad_response error when it is cut
    short, is not JSON, or does not validate (the model may do better on a retry)."""
    choice = (completion.get("choices") or [{}])[0]
    content = answer_text((choice.get("message") or {}).get("content"))
    request_id = {"request_id": completion["request_id"]} if completion.get("request_id") else {}
    if choice.get("finish_reason") == "length":
        raise unusable(
            "was cut at max_tokens before its JSON ended; ask again with a larger max_tokens", request_id
        )
    try:
        value = json.loads(content)
    except ValueError:
        excerpt = content[:EXCERPT_CHARS]
        raise unusable(f"is not JSON (it begins {excerpt!r})", request_id) from None
    error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(the top level)"
        raise unusable(f"does not match the schema at {where}: {error.message[:EXCERPT_CHARS]}", request_id)
    return value


def answer_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def unusable(problem: str, reported: dict[str, Any]) -> UpstreamError:
    return UpstreamError(
        message=f"The model's structured answer {problem}. A retry may help.",
        kind=ErrorKind.BAD_RESPONSE,
        reported=reported,
    )
