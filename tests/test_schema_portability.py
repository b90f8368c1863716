"""Tool schemas every model provider accepts: no `type` arrays, no null, no top-level unions.

Gemini-style clients map tool schemas onto a single-`type` dialect and reject `"type": [..., "null"]`;
MCP Inspector's schema-portability report (`--method tools/list --strict`) warns about each one.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from aai_mcp.gateway import load_default_catalog
from aai_mcp.mcp_server.registry import tool_definition
from aai_mcp.mcp_server.registry.definitions import portable
from aai_mcp.mcp_server.runtime.validation import ArgumentValidator
from aai_mcp.mcp_server.views.contract import ViewContext
from aai_mcp.mcp_server.views.view_table import VIEWS
from tests.support.servers import serve_in_process
from tests.test_inspector_cli import INSPECTOR, node_path

CATALOG = load_default_catalog()
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
SCHEMA_VALUES = ("items", "additionalProperties", "contains", "not", "propertyNames", "if", "then", "else")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
# Keywords that constrain a value; a subschema with none of them accepts anything (Inspector's
# "untyped-schema" warning).
CONSTRAINING = set(
    "type enum const multipleOf maximum exclusiveMaximum minimum exclusiveMinimum maxLength minLength "
    "pattern format contentMediaType contentEncoding contentSchema maxItems minItems uniqueItems "
    "maxContains minContains maxProperties minProperties required dependentRequired allOf anyOf oneOf "
    "not items prefixItems contains additionalItems unevaluatedItems properties patternProperties "
    "additionalProperties unevaluatedProperties propertyNames dependentSchemas dependencies $ref "
    "$dynamicRef $recursiveRef".split()
)


def subschemas(schema: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every schema position in `schema`, with a readable path (the root is "")."""
    yield path, schema
    if not isinstance(schema, dict):
        return
    for key in SCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            yield from subschemas(sub, f"{path}.{key}.{name}")
    for key in SCHEMA_VALUES:
        if isinstance(schema.get(key), dict):
            yield from subschemas(schema[key], f"{path}.{key}")
    for key in SCHEMA_LISTS:
        for index, sub in enumerate(schema.get(key) or []):
            yield from subschemas(sub, f"{path}.{key}[{index}]")


def definitions() -> list[dict[str, Any]]:
    return [
        tool_definition(spec, CATALOG).model_dump(mode="json", by_alias=True, exclude_none=True)
        for spec in CATALOG.tools.values()
    ]


def problems(schema: dict[str, Any]) -> list[str]:
    found = [f"top-level {key}" for key in ("anyOf", "oneOf", "allOf") if key in schema]
    for path, node in subschemas(schema):
        if not isinstance(node, dict):
            found.append(f"{path or '(root)'}: bare {node!r} where a schema object belongs")
            continue
        declared = node.get("type")
        if isinstance(declared, list):
            found.append(f"{path}: type array {declared}")
        if declared == "null" or None in node.get("enum", ()):
            found.append(f"{path}: declares null (leave the value out instead)")
        if path and not CONSTRAINING & set(node):
            found.append(f"{path}: no type or other constraint")
    return found


@pytest.mark.parametrize("tool", definitions(), ids=lambda tool: tool["name"])
def test_schemas_are_portable_at_every_depth(tool: dict[str, Any]) -> None:
    assert problems(tool["inputSchema"]) == [], tool["name"]
    assert problems(tool["outputSchema"]) == [], tool["name"]


def test_the_check_finds_what_the_inspector_report_warns_about() -> None:
    bad = {
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"]},
            "b": {"type": "array", "items": {"description": "anything"}},
            "c": {"type": "string", "enum": ["x", None]},
        },
        "anyOf": [{"description": "only words"}],
    }
    assert problems(bad) == [
        "top-level anyOf",
        ".properties.a: type array ['string', 'null']",
        ".properties.b.items: no type or other constraint",
        ".properties.c: declares null (leave the value out instead)",
        ".anyOf[0]: no type or other constraint",
    ]


def test_a_type_array_becomes_one_branch_per_type_with_its_own_keywords() -> None:
    schema = {
        "type": "object",
        "properties": {
            "choice": {"type": ["string", "object"], "minLength": 1, "properties": {}, "description": "d"},
            "list": {"type": "array", "items": {"type": ["string", "array"], "items": {"type": "object"}}},
        },
    }
    assert portable(schema)["properties"] == {
        "choice": {
            "description": "d",
            "anyOf": [{"type": "string", "minLength": 1}, {"type": "object", "properties": {}}],
        },
        "list": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
        },
    }


def test_a_type_array_beside_an_existing_any_of_keeps_both() -> None:
    schema = {"type": ["string", "integer"], "anyOf": [{"minLength": 2}, {"minimum": 3}]}
    assert portable(schema) == {
        "anyOf": [{"minLength": 2}, {"minimum": 3}],
        "allOf": [{"anyOf": [{"type": "string"}, {"type": "integer"}]}],
    }


def nulls(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [None for item in value.values() if item is None] + [
            n for v in value.values() for n in nulls(v)
        ]
    if isinstance(value, list):
        return [n for item in value for n in nulls(item)]
    return []


# Upstream answers full of nulls, as AssemblyAI and the LLM Gateway send them.
NULL_HEAVY = [
    (
        "list_transcripts",
        {
            "transcripts": [
                {
                    "id": "t1",
                    "status": "queued",
                    "created": None,
                    "completed": None,
                    "audio_url": None,
                    "error": None,
                }
            ],
            "page_details": {"prev_url": None},
        },
    ),
    (
        "llm_chat_completion",
        {  # the chat handler's payload: the gateway's completion, and its own notes
            "completion": {
                "choices": [
                    {"message": {"content": None, "tool_calls": [{"id": "c"}]}, "finish_reason": None}
                ],
                "request_id": None,
                "usage": None,
            },
            "notes": [],
        },
    ),
    ("get_sentences", {"id": "t1", "sentences": [{"text": "Hi.", "start": 0, "end": 5, "speaker": None}]}),
    (
        "get_transcript",
        {
            "id": "t1",
            "status": "completed",
            "text": "Hi.",
            "audio_duration": None,
            "confidence": None,
            "language_code": None,
            "speech_model_used": None,
            "utterances": [{"speaker": None, "text": "Hi.", "start": 0, "end": 5}],
        },
    ),
]


@pytest.mark.parametrize(("name", "payload"), NULL_HEAVY, ids=[name for name, _ in NULL_HEAVY])
def test_views_leave_unknown_values_out_so_results_match_the_schema(
    name: str, payload: dict[str, Any]
) -> None:
    spec = CATALOG.tools[name]
    context = ViewContext(
        spec=spec, args={}, max_chars=40_000, base_url="https://api.assemblyai.com", now=datetime.now(UTC)
    )
    structured = VIEWS[spec.view](payload, context).structured
    assert nulls(structured) == []
    listed = tool_definition(spec, CATALOG).output_schema
    assert listed is not None
    # The full schema (outputs.yaml) and the outline tools/list carries both take it.
    for schema in (portable(CATALOG.outputs[spec.output]), listed):
        assert list(Draft202012Validator(schema).iter_errors(structured)) == []


def test_an_optional_value_is_omitted_not_null() -> None:
    validator = ArgumentValidator(CATALOG.tools["create_transcript"])
    audio = {"audio_url": "https://example.com/call.mp3"}
    assert validator.problem(audio) is None
    assert validator.problem({**audio, "language_code": None}) == (
        "Invalid argument 'language_code': None is not of type 'string'"
    )


def test_a_union_argument_still_accepts_each_of_its_types_and_nothing_else() -> None:
    validator = ArgumentValidator(CATALOG.tools["llm_chat_completion"])
    base = {"prompt": "hi", "model": "claude-sonnet-4-6"}
    for choice in ("auto", {"type": "function", "function": {"name": "f"}}):
        assert validator.problem({**base, "tool_choice": choice}) is None
    assert validator.problem({**base, "tool_choice": 3}) is not None


def test_inspector_reports_no_portability_findings_over_http() -> None:
    env = {**os.environ, "PATH": node_path()}
    if not INSPECTOR.exists():
        pytest.fail(f"MCP Inspector CLI not installed at {INSPECTOR}: run `bash scripts/test`")
    with serve_in_process("--toolsets", ",".join(CATALOG.toolsets)) as server:
        done = subprocess.run(
            [str(INSPECTOR), "--cli", f"{server.base_url}/mcp", "--method", "tools/list", "--strict"]
            + ["--format", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    envelope = json.loads(done.stdout)
    assert {tool["name"] for tool in envelope["result"]["tools"]} == set(CATALOG.tools)
    # --strict puts every finding (error or warning) in schemaFindings and the report on stderr.
    assert envelope.get("schemaFindings", []) == [], json.dumps(envelope["schemaFindings"], indent=1)
    assert "Warning:" not in done.stderr and "Error:" not in done.stderr, done.stderr
