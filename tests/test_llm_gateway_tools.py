"""The llm tools over the simulator: list_llm_models, the model check against the gateway's cached
list, structured outputs in structuredContent, and understand_transcript's dry run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aai_mcp.mcp_server.handlers.structured_answers import MAX_SCHEMA_CHARS
from tests.support import CANARY_KEY, error_details
from tests.test_ask_transcript import Rig, error_text, rig_with

pytestmark = pytest.mark.anyio
MODEL = "claude-sonnet-4-6"
MODELS = ("GET", "/v1/models")
SCHEMA = {
    "type": "object",
    "properties": {"issue": {"type": "string"}, "refunded": {"type": "boolean"}, "steps": {"type": "array"}},
    "required": ["issue", "refunded"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "call_facts", "schema": SCHEMA, "strict": True}}
TRANSLATE = {"request": {"translation": {"target_languages": ["es"]}}}


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async for made in rig_with():
        yield made


def count(rig: Rig, method: str, path: str) -> int:
    return len(rig.sent(method, path))


def leak_free(result: Any) -> Any:
    assert CANARY_KEY not in result.model_dump_json()
    return result


async def chat(rig: Rig, **args: Any) -> Any:
    return leak_free(
        await rig.client.call_tool("llm_chat_completion", {"model": MODEL, "prompt": "Hi", **args})
    )


async def test_list_is_compact_by_default_and_full_on_request(rig: Rig) -> None:
    compact = leak_free(await rig.client.call_tool("list_llm_models", {}))
    models = compact.structured_content["models"]
    assert compact.structured_content["count"] == len(models) > 10
    first = models[0]
    assert set(first) <= {
        "id",
        "creator",
        "context_length",
        "regions",
        "price_per_million_tokens",
        "retires_on",
    }
    assert first["price_per_million_tokens"]["prompt"] > 0 and "context" in compact.content[0].text
    full = leak_free(await rig.client.call_tool("list_llm_models", {"detail": True}))
    assert "supported_parameters" in full.structured_content["models"][0]
    assert count(rig, *MODELS) == 1  # the second call was served from the cache
    await rig.client.call_tool("list_llm_models", {"refresh": True})
    assert count(rig, *MODELS) == 2


async def test_eu_list_leaves_out_models_not_served_there() -> None:
    async for rig in rig_with(region="eu"):
        ids = {
            m["id"] for m in (await rig.client.call_tool("list_llm_models", {})).structured_content["models"]
        }
        assert MODEL in ids and not any(model.startswith("gpt-") for model in ids)


async def test_the_list_is_read_once_for_many_chats(rig: Rig) -> None:
    for _ in range(3):
        assert not (await chat(rig)).is_error
    assert count(rig, *MODELS) == 1 and count(rig, "POST", "/v1/chat/completions") == 3


async def test_an_unknown_model_names_close_matches_and_is_never_sent(rig: Rig) -> None:
    result = await chat(rig, model="claude-sonnet-4.6")
    message = error_text(result)
    assert error_details(result)["kind"] == "invalid_arguments"
    assert "'claude-sonnet-4.6'" in message and "Close matches: claude-sonnet-4-6" in message
    assert count(rig, "POST", "/v1/chat/completions") == 0


async def test_a_miss_refreshes_a_stale_list_before_refusing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = rig.gateway.runner.models
    clock = [1000.0]
    monkeypatch.setattr(directory, "_clock", lambda: clock[0])
    assert not (await chat(rig)).is_error
    monkeypatch.setattr("aai_mcp.simulator.llm.KNOWN_MODELS", frozenset({MODEL, "claude-next"}))
    released = [{"id": MODEL}, {"id": "claude-next"}]  # a model released since the list was read
    monkeypatch.setattr("aai_mcp.simulator.routes_gateway.model_list", lambda: released)
    clock[0] += 5  # inside MIN_REFRESH_SECONDS: a miss does not read again
    assert (await chat(rig, model="claude-next")).is_error
    assert count(rig, *MODELS) == 1
    clock[0] += 60  # past it (still inside the TTL): the miss reads the list again, and the model is there
    assert not (await chat(rig, model="claude-next")).is_error
    assert count(rig, *MODELS) == 2


async def test_list_failure_falls_back_to_the_configured_models_and_says_so(rig: Rig) -> None:
    rig.sim.queue_fault("500", count=10, path_prefix="/v1/models")
    result = await chat(rig)
    assert not result.is_error, result.content
    assert "configured list" in result.structured_content["notes"][0]
    assert "configured list" in result.content[0].text
    refused = await chat(rig, model="gpt-2")
    assert "configured models" in error_text(refused) and "internal" not in error_text(refused)


async def test_operator_allow_list_narrows_the_gateway_list() -> None:
    async for rig in rig_with(llm_models=[MODEL]):
        assert not (await chat(rig)).is_error
        refused = await chat(rig, model="gpt-5-mini")
        assert "is not one of the models the LLM Gateway lists" in error_text(refused)


async def test_structured_chat_answer_is_parsed_into_structured_content(rig: Rig) -> None:
    result = await chat(rig, response_format=FORMAT)
    assert not result.is_error, result.content
    parsed = result.structured_content["parsed"]
    assert set(parsed) == {"issue", "refunded", "steps"} and isinstance(parsed["refunded"], bool)
    sent = json.loads(rig.sent("POST", "/v1/chat/completions")[0].content)
    assert sent["response_format"] == FORMAT


async def test_ask_transcript_returns_the_parsed_answer(rig: Rig) -> None:
    transcript_id = await rig.create(speaker_labels=True)
    args = {"transcript_ids": [transcript_id], "prompt": "Facts?", "response_format": FORMAT}
    result = leak_free(await rig.client.call_tool("ask_transcript", args))
    assert not result.is_error, result.content
    assert isinstance(result.structured_content["parsed"]["issue"], str)


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "array", "items": {"type": "string"}}, "must describe an object"),
        ({"type": "object", "properties": {"a": {"type": "nope"}}}, "not a valid JSON Schema"),
        (
            {"type": "object", "description": "x" * (MAX_SCHEMA_CHARS + 1)},
            f"at most {MAX_SCHEMA_CHARS:,}",
        ),
    ],
)
async def test_bad_or_oversized_schemas_are_refused_before_upstream(
    rig: Rig, schema: dict[str, Any], fragment: str
) -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    result = await chat(rig, response_format=response_format)
    assert fragment in error_text(result) and error_details(result)["kind"] == "invalid_arguments"
    assert count(rig, "POST", "/v1/chat/completions") == 0


def answer_with(content: str, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "request_id": "req-1",
        "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@pytest.mark.parametrize(
    ("content", "finish_reason", "fragment"),
    [
        ("Sure! Here it is.", "stop", "is not JSON"),
        (
            '{"issue": "fee"}',
            "stop",
            "does not match the schema at (the top level): 'refunded' is a required",
        ),
        ('{"issue": "fee", "refunded": "yes"}', "stop", "at refunded"),
        ('{"issue": "fe', "length", "cut at max_tokens"),
    ],
)
async def test_an_answer_that_does_not_parse_or_validate_is_a_clear_error(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, content: str, finish_reason: str, fragment: str
) -> None:
    monkeypatch.setattr(
        "aai_mcp.simulator.routes_gateway.chat_completion", lambda *_: answer_with(content, finish_reason)
    )
    result = await chat(rig, response_format=FORMAT)
    details = error_details(result)
    assert details["kind"] == "bad_response" and details["retryable"] is True
    assert fragment in details["message"] and details["request_id"] == "req-1"


async def test_dry_run_validates_without_running(rig: Rig) -> None:
    transcript_id = await rig.create()
    args = {"transcript_id": transcript_id, "speech_understanding": TRANSLATE, "dry_run": True}
    result = leak_free(await rig.client.call_tool("understand_transcript", args))
    assert result.structured_content == {"dry_run": True, "valid": True, "speech_understanding": TRANSLATE}
    assert count(rig, "POST", "/v1/understanding/validate") == 1
    assert count(rig, "POST", "/v1/understanding") == 0
    assert rig.sim.accounts[CANARY_KEY].usage.understanding_requests == 0


async def test_dry_run_reports_the_gateway_validation_errors(rig: Rig) -> None:
    # Valid for the tool's schema, refused by the gateway: speaker_type role needs known_values.
    bad = {"request": {"speaker_identification": {"speaker_type": "role"}}}
    args = {"transcript_id": "abc", "speech_understanding": bad, "dry_run": True}
    result = leak_free(await rig.client.call_tool("understand_transcript", args))
    out = result.structured_content
    assert out["dry_run"] is True and out["valid"] is False and out["errors"] and out["request_id"]
    assert "would refuse" in result.content[0].text


async def test_dry_run_auth_failure_is_an_error_not_a_verdict() -> None:
    async for rig in rig_with():
        rig.sim.reject_key(CANARY_KEY)
        args = {"transcript_id": "abc", "speech_understanding": TRANSLATE, "dry_run": True}
        result = leak_free(await rig.client.call_tool("understand_transcript", args))
        assert error_details(result)["status"] == 401
