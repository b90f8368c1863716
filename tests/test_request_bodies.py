"""Request bodies the server builds validate against AssemblyAI's official schemas."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from aai_mcp.mcp_server.registry import accepted_schema
from aai_mcp.mcp_server.runtime.forward import request_body
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.mcp_server.runtime.validation import MAX_SAFE_INTEGER, ArgumentValidator
from tests.support.spec_reference import CATALOG, DOCUMENTED_AFTER_SPEC, operation_for, specs

DEFAULT_SPEECH_MODELS = ["universal-3-pro", "universal-2"]


# --- request bodies built the way the server builds them ---


def build_body(name: str, args: dict[str, Any]) -> dict[str, Any]:
    spec = CATALOG.tools[name]
    assert ArgumentValidator(spec).problem(args) is None, "the server would refuse these arguments"
    # request_body reads only spec and args; the upstream client and settings play no part.
    return request_body(ToolCall(spec=spec, args=args, upstream=None, settings=None))  # type: ignore[arg-type]


@cache
def body_validator(name: str) -> Draft202012Validator:
    """The spec's body schema, closed, plus the tool's allow-listed documented-later parameters."""
    spec = CATALOG.tools[name]
    reference = specs()
    operation = operation_for(spec, reference)
    schema = dict(operation.body_schema or {})
    extra = {
        param: spec.params.body[param].json_schema() for tool, param in DOCUMENTED_AFTER_SPEC if tool == name
    }
    schema["properties"] = {**schema.get("properties", {}), **extra}
    schema["additionalProperties"] = False
    return reference.validator(operation, schema)


def assert_valid(validator: Draft202012Validator, body: dict[str, Any]) -> None:
    error = best_match(validator.iter_errors(body))
    assert error is None, f"{list(error.absolute_path)}: {error.message}"


AUDIO = "https://assembly.ai/wildfires.mp3"
RICH_TRANSCRIPT_ARGS: dict[str, Any] = {
    "audio_url": AUDIO,
    "speech_models": ["universal-3-pro", "universal-2"],
    "language_detection": True,
    "language_detection_options": {
        "expected_languages": ["en", "es"],
        "fallback_language": "en",
        "code_switching": True,
        "code_switching_confidence_threshold": 0.5,
    },
    "language_confidence_threshold": 0.4,
    "speaker_labels": True,
    "speaker_options": {"min_speakers_expected": 2, "max_speakers_expected": 4},
    "prompt": "A support call about a refund.",
    "keyterms_prompt": ["AssemblyAI", "Universal-3 Pro"],
    "temperature": 0.2,
    "remove_audio_tags": "all",
    "punctuate": True,
    "format_text": True,
    "disfluencies": False,
    "filter_profanity": True,
    "custom_spelling": [{"from": ["assembly ai", "assembly a i"], "to": "AssemblyAI"}],
    "audio_start_from": 1000,
    "audio_end_at": 60000,
    "speech_threshold": 0.2,
    "redact_pii": True,
    "redact_pii_policies": ["person_name", "phone_number", "us_social_security_number"],
    "redact_pii_sub": "entity_name",
    "redact_pii_audio": True,
    "redact_pii_audio_quality": "wav",
    "redact_pii_audio_options": {
        "return_redacted_no_speech_audio": True,
        "override_audio_redaction_method": "silence",
    },
    "auto_highlights": True,
    "content_safety": True,
    "content_safety_confidence": 60,
    "iab_categories": True,
    "sentiment_analysis": True,
    "entity_detection": True,
    "speech_understanding": {
        "request": {
            "translation": {
                "target_languages": ["es", "de"],
                "formal": True,
                "match_original_utterance": True,
            }
        }
    },
    "webhook_url": "https://example.com/hooks/assemblyai",
    "webhook_auth_header_name": "X-Webhook-Secret",
    "webhook_auth_header_value": "s3cret",
}
MORE_TRANSCRIPT_ARGS: list[dict[str, Any]] = [
    {"audio_url": AUDIO, "language_code": "no", "speakers_expected": 2, "multichannel": True},
    {"audio_url": AUDIO, "language_codes": ["en", "es"], "redact_pii_sub": "entity_name"},
    {"audio_url": AUDIO, "language_code": "some-future-code", "speech_threshold": 0.5},
    {
        "audio_url": AUDIO,
        "speech_understanding": {
            "request": {
                "speaker_identification": {"speaker_type": "role", "known_values": ["agent", "customer"]}
            }
        },
    },
    {
        "audio_url": AUDIO,
        "speech_understanding": {"request": {"custom_formatting": {"date": "mm/dd/yyyy", "email": "x@y.z"}}},
    },
]


def test_minimal_transcript_body_gets_default_speech_models() -> None:
    body = build_body("create_transcript", {"audio_url": AUDIO})
    assert body == {"audio_url": AUDIO, "speech_models": DEFAULT_SPEECH_MODELS}
    assert_valid(body_validator("create_transcript"), body)


def test_rich_transcript_body_is_forwarded_whole_and_valid() -> None:
    body = build_body("create_transcript", RICH_TRANSCRIPT_ARGS)
    assert body == RICH_TRANSCRIPT_ARGS
    assert_valid(body_validator("create_transcript"), body)


@pytest.mark.parametrize("args", MORE_TRANSCRIPT_ARGS)
def test_more_transcript_bodies_are_valid(args: dict[str, Any]) -> None:
    body = build_body("create_transcript", args)
    assert body["speech_models"] == DEFAULT_SPEECH_MODELS
    assert_valid(body_validator("create_transcript"), body)


def test_unflattened_transcript_params_reject_a_valid_body() -> None:
    # ENDPOINTS.md §6 Gotcha 1: every allOf branch is closed, so the schema as written accepts
    # nothing. This is why the checks above flatten it.
    reference = specs()
    operation = operation_for(CATALOG.tools["create_transcript"], reference)
    raw = reference.validator(operation, {"$ref": "#/components/schemas/TranscriptParams"})
    body = {"audio_url": AUDIO, "speech_models": DEFAULT_SPEECH_MODELS}
    assert not raw.is_valid(body)
    assert body_validator("create_transcript").is_valid(body)


LLM_ARGS: list[dict[str, Any]] = [
    {
        "model": "claude-sonnet-4-6",
        "messages": [{"role": "user", "content": "Summarise: {{ transcript }}"}],
        "transcript_id": "5551722-f677-48a4-a4d7-a4b3f2b1bc1b",
        "max_tokens": 500,
        "temperature": 0.3,
    },
    {"model": "gemini-2.5-flash-lite", "prompt": "Write a haiku about coding"},
    {
        "model": "gpt-5-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {"role": "tool", "content": "18C, sunny", "tool_call_id": "call_1"},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}},
        },
    },
    {"model": "claude-haiku-4-5-20251001", "prompt": "Hi", "tool_choice": "auto"},
]
UNDERSTANDING_REQUESTS: list[dict[str, Any]] = [
    {"translation": {"target_languages": ["es", "de"], "formal": True, "match_original_utterance": False}},
    {"speaker_identification": {"speaker_type": "role", "known_values": ["interviewer", "candidate"]}},
    {
        "speaker_identification": {
            "speaker_type": "name",
            "speakers": [{"name": "Michel Martin", "description": "Hosts the program", "company": "NPR"}],
        }
    },
    {
        "custom_formatting": {
            "date": "mm/dd/yyyy",
            "phone_number": "(xxx)xxx-xxxx",
            "email": "username@domain.com",
        }
    },
]


@pytest.mark.parametrize("args", LLM_ARGS)
def test_chat_completion_bodies_are_valid(args: dict[str, Any]) -> None:
    body = build_body("llm_chat_completion", args)
    assert body == args
    assert_valid(body_validator("llm_chat_completion"), body)


def test_chat_completion_body_with_transcript_id_needs_the_allow_list() -> None:
    reference = specs()
    operation = operation_for(CATALOG.tools["llm_chat_completion"], reference)
    closed = {**(operation.body_schema or {}), "additionalProperties": False}
    assert not reference.validator(operation, closed).is_valid(build_body("llm_chat_completion", LLM_ARGS[0]))


@pytest.mark.parametrize("request_", UNDERSTANDING_REQUESTS)
def test_understanding_bodies_are_valid(request_: dict[str, Any]) -> None:
    args = {"transcript_id": "abc123", "speech_understanding": {"request": request_}}
    body = build_body("understand_transcript", args)
    assert body == args
    assert_valid(body_validator("understand_transcript"), body)


# --- property-based: any arguments the tool's own schema accepts make a body the spec accepts ---

URLS = [
    "https://assembly.ai/wildfires.mp3",
    "https://cdn.assemblyai.com/upload/abc",
    "http://example.com/a.wav",
]


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    declared = schema.get("type", ["null", "boolean", "integer", "string"])
    if isinstance(declared, list):
        return st.one_of(*[from_schema({**schema, "type": one}) for one in declared])
    strategy: st.SearchStrategy[Any] = _BUILDERS[declared](schema)
    return strategy


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    if schema.get("format") in ("uri", "url"):
        return st.sampled_from(URLS)
    return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 20))


def _array(schema: dict[str, Any]) -> st.SearchStrategy[list[Any]]:
    low = schema.get("minItems", 0)
    return st.lists(
        from_schema(schema.get("items", {})), min_size=low, max_size=schema.get("maxItems", low + 3)
    )


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    strategy = st.fixed_dictionaries(
        {name: from_schema(sub) for name, sub in properties.items() if name in required},
        optional={name: from_schema(sub) for name, sub in properties.items() if name not in required},
    )
    low, high = schema.get("minProperties", 0), schema.get("maxProperties", len(properties))
    return strategy.filter(lambda value: low <= len(value) <= high)


_BUILDERS: dict[str, Any] = {
    "null": lambda schema: st.none(),
    "boolean": lambda schema: st.booleans(),
    "integer": lambda schema: st.integers(
        max(schema.get("minimum", -MAX_SAFE_INTEGER), -MAX_SAFE_INTEGER),
        min(schema.get("maximum", MAX_SAFE_INTEGER), MAX_SAFE_INTEGER),
    ),
    "number": lambda schema: st.floats(
        schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False
    ),
    "string": _string,
    "array": _array,
    "object": _object,
}
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(args=from_schema(accepted_schema(CATALOG.tools["create_transcript"])))
def test_any_valid_transcript_args_make_a_spec_valid_body(args: dict[str, Any]) -> None:
    body = build_body("create_transcript", args)
    assert "speech_models" in body
    assert_valid(body_validator("create_transcript"), body)


@PROPERTY_SETTINGS
@given(args=from_schema(accepted_schema(CATALOG.tools["understand_transcript"])))
def test_any_valid_understanding_args_make_a_spec_valid_body(args: dict[str, Any]) -> None:
    assert_valid(body_validator("understand_transcript"), build_body("understand_transcript", args))
