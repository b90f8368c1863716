"""What the LLM Gateway is asked for a kit (structured output: every field wrapped as {value, evidence,
confidence}) and reading its answer: JSON that fits the wrapping, values that fit the kit's schema.
Anything else is a clear error, never a half-read result."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from aai_mcp.extraction.kits import ExtractionKit
from aai_mcp.upstream.errors import ErrorKind, UpstreamError

EVIDENCE_SCHEMA: dict[str, Any] = {
    "type": "array",
    "maxItems": 5,
    "description": "Verbatim quotes from the transcript that support the value.",
    "items": {
        "type": "object",
        "properties": {"quote": {"type": "string", "minLength": 1, "maxLength": 500}},
        "required": ["quote"],
        "additionalProperties": False,
    },
}
CONFIDENCE_SCHEMA: dict[str, Any] = {
    "type": "number",
    "minimum": 0,
    "maximum": 1,
    "description": "How sure the value is, 0 to 1.",
}


def wrapped_field(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": schema.get("description", ""),
        "properties": {"value": schema, "evidence": EVIDENCE_SCHEMA, "confidence": CONFIDENCE_SCHEMA},
        "required": ["value", "evidence", "confidence"],
        "additionalProperties": False,
    }


def answer_schema(kit: ExtractionKit) -> dict[str, Any]:
    """The shape of a whole answer: each field of the kit, wrapped."""
    return {
        "type": "object",
        "properties": {name: wrapped_field(schema) for name, schema in kit.fields.items()},
        "required": list(kit.required),
        "additionalProperties": False,
    }


def response_format(kit: ExtractionKit) -> dict[str, Any]:
    name = "extraction_" + kit.name.replace("-", "_")
    # Strict structured output (OpenAI's) needs every property required; a kit with optional fields asks
    # for the same shape without the guarantee, and read_answer checks it either way.
    strict = set(kit.required) == set(kit.fields)
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "strict": strict, "schema": answer_schema(kit)},
    }


def invalid(message: str) -> UpstreamError:
    return UpstreamError(message, kind=ErrorKind.BAD_RESPONSE)


def answer_content(completion: Any) -> str:
    """The assistant's text in a chat completion (AssemblyAI's shape: choices[0].message.content)."""
    try:
        content = completion["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise invalid("The LLM Gateway's answer has no choices[0].message.content.") from None
    if not isinstance(content, str):
        raise invalid("The LLM Gateway's answer content is not text.")
    return content


def read_answer(kit: ExtractionKit, completion: Any) -> dict[str, dict[str, Any]]:
    """The fields of a structured answer, checked: the wrapping, then the values against the kit."""
    try:
        answer = json.loads(answer_content(completion))
    except ValueError:
        raise invalid(f"The model's answer for kit {kit.name} is not JSON.") from None
    _check(
        Draft202012Validator(answer_schema(kit)), answer, f"does not have the shape kit {kit.name} asks for"
    )
    values = {name: field["value"] for name, field in answer.items()}
    _check(Draft202012Validator(kit.schema()), values, f"has values kit {kit.name}'s schema refuses")
    fields: dict[str, dict[str, Any]] = answer
    return fields


def _check(validator: Draft202012Validator, instance: Any, what: str) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(part) for part in first.absolute_path) or "(answer)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise invalid(f"The model's answer {what}: {where}: {first.message[:200]}{more}.")
