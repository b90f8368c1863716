"""LLM Gateway: chat completions and Speech Understanding."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

MODEL = "claude-sonnet-4-5-20250929"
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-model")


async def chat(sim: Harness, **body: Any) -> Any:
    return await sim.client.post("/v1/chat/completions", json={"model": MODEL, **body})


async def understand(sim: Harness, transcript_id: str, request: dict[str, Any]) -> Any:
    body = {"transcript_id": transcript_id, "speech_understanding": {"request": request}}
    return await sim.client.post("/v1/understanding", json=body)


async def test_chat_response_has_assemblyai_shape(sim: Harness) -> None:
    message = "Hello, how are you today my friend?"
    response = await chat(
        sim, messages=[{"role": "user", "content": message}], max_tokens=100, temperature=0.7
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "request_id",
        "choices",
        "request",
        "usage",
        "http_status_code",
        "response_time",
        "llm_status_code",
    }
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    assert f"{len(message)}-character" in choice["message"]["content"]
    assert '"Hello, how are you today my friend?"' in choice["message"]["content"]
    assert body["request"] == {"model": MODEL, "max_tokens": 100, "temperature": 0.7}
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert body["http_status_code"] == 200 and body["llm_status_code"] == 200


async def test_chat_success_carries_rate_limit_headers(sim: Harness) -> None:
    first = await chat(sim, prompt="one")
    second = await chat(sim, prompt="two")
    for header in RATE_HEADERS:
        assert header in first.headers
    assert first.headers["x-ratelimit-model"] == MODEL
    assert first.headers["x-ratelimit-service"] == "LLM Gateway"
    assert int(second.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1


async def test_prompt_becomes_a_user_message(sim: Harness) -> None:
    body = (await chat(sim, prompt="Write a haiku about coding")).json()
    assert "prompt" not in body["request"]
    assert '"Write a haiku about coding"' in body["choices"][0]["message"]["content"]


async def test_transcript_substitution(sim: Harness) -> None:
    done = await sim.completed()
    messages = [
        {"role": "system", "content": "You summarise calls."},
        {"role": "user", "content": "Summarise: {{ transcript }}"},
    ]
    body = (await chat(sim, messages=messages, transcript_id=done["id"])).json()
    content = body["choices"][0]["message"]["content"]
    assert f"{len('Summarise: ') + len(done['text'])}-character" in content
    assert '"Summarise: Thank you for calling Northwind Telecom' in content
    assert f"({len(done['words'])} words)" in content
    assert body["usage"]["input_tokens"] > len(done["text"]) // 5


async def test_unknown_transcript_is_404(sim: Harness) -> None:
    response = await chat(
        sim, prompt="{{ transcript }}", transcript_id="00000000-0000-4000-8000-000000000000"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"prompt": "hi"}, 400),
        ({"model": "gpt-99", "prompt": "hi"}, 404),
        ({"model": MODEL}, 400),
        ({"model": MODEL, "messages": [{"role": "robot", "content": "x"}]}, 400),
        ({"model": MODEL, "prompt": "hi", "max_tokens": 0}, 400),
        ({"model": MODEL, "prompt": "hi", "temperature": 3}, 400),
    ],
)
async def test_chat_errors_are_business_envelopes(sim: Harness, body: dict[str, Any], status: int) -> None:
    """The 2026-10 SDK's envelope (`llm_gateway/v1/api.py:15-54`), newer than the spec's nested one."""
    response = await sim.client.post("/v1/chat/completions", json=body)
    assert response.status_code == status
    error = response.json()
    assert set(error) == {"message", "code", "request_id", "metadata"}
    assert error["message"] and error["metadata"] == {"errors": []}


async def test_named_tool_choice_returns_a_tool_call(sim: Harness) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    }
    body = (
        await chat(
            sim,
            prompt="find it",
            tools=[tool],
            tool_choice={"type": "function", "function": {"name": "lookup"}},
        )
    ).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["tool_calls"][0]
    assert call["function"]["name"] == "lookup" and json.loads(call["function"]["arguments"]) == {
        "q": "simulated"
    }


async def test_json_schema_response_format_returns_matching_json(sim: Harness) -> None:
    schema = {
        "type": "object",
        "properties": {"steps": {"type": "array"}, "final_answer": {"type": "string"}},
        "required": ["steps", "final_answer"],
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "math", "schema": schema}}
    body = (await chat(sim, prompt="8x + 7 = -23", response_format=response_format)).json()
    assert json.loads(body["choices"][0]["message"]["content"]) == {
        "steps": ["simulated"],
        "final_answer": "simulated",
    }


async def test_translation(sim: Harness) -> None:
    done = await sim.completed()
    response = await understand(
        sim, done["id"], {"translation": {"target_languages": ["es", "de"], "match_original_utterance": True}}
    )
    assert response.status_code == 200
    assert response.headers["x-ratelimit-service"] == "Speech Understanding"
    body = response.json()
    assert body["speech_understanding"]["response"]["translation"]["status"] == "completed"
    assert set(body["translated_texts"]) == {"es", "de"}
    assert body["translated_texts"]["es"].startswith("[es] Thank you for calling")
    assert body["utterances"][0]["translated_texts"]["de"].startswith("[de] ")
    assert len(body["words"]) == len(done["words"])


async def test_speaker_identification(sim: Harness) -> None:
    done = await sim.completed(speaker_labels=True)
    request = {"speaker_identification": {"speaker_type": "role", "known_values": ["agent", "customer"]}}
    body = (await understand(sim, done["id"], request)).json()
    result = body["speech_understanding"]["response"]["speaker_identification"]
    assert result == {"mapping": {"A": "agent", "B": "customer"}, "status": "completed"}
    assert [u["speaker"] for u in body["utterances"][:2]] == ["agent", "customer"]
    named = {
        "speaker_identification": {"speaker_type": "name", "speakers": [{"name": "Sam"}, {"name": "Maria"}]}
    }
    mapping = (await understand(sim, done["id"], named)).json()["speech_understanding"]["response"]
    assert mapping["speaker_identification"]["mapping"] == {"A": "Sam", "B": "Maria"}


async def test_custom_formatting(sim: Harness) -> None:
    done = await sim.completed()
    request = {"custom_formatting": {"date": "mm/dd/yyyy", "phone_number": "(xxx)xxx-xxxx"}}
    body = (await understand(sim, done["id"], request)).json()
    result = body["speech_understanding"]["response"]["custom_formatting"]
    assert result["mapping"]["555-867-5309"] == "(555)867-5309"
    assert result["mapping"]["March 3rd"] == "03/03/2025"
    assert "(555)867-5309" in result["formatted_text"] and result["status"] == "completed"
    assert body["speech_understanding"]["request"] == request


@pytest.mark.parametrize(
    "request_body",
    [
        {},
        {"translation": {"target_languages": ["es"]}, "custom_formatting": {}},
        {"translation": {"target_languages": []}},
        {"speaker_identification": {"speaker_type": "robot"}},
    ],
)
async def test_understanding_rejects_bad_requests(sim: Harness, request_body: dict[str, Any]) -> None:
    done = await sim.completed()
    response = await understand(sim, done["id"], request_body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


async def test_understanding_unknown_transcript_is_404(sim: Harness) -> None:
    response = await understand(sim, "nope", {"translation": {"target_languages": ["es"]}})
    assert response.status_code == 404


async def test_understanding_during_transcription(sim: Harness) -> None:
    request = {"translation": {"target_languages": ["fr"]}}
    done = await sim.completed(speech_understanding={"request": request})
    assert done["speech_understanding"]["response"]["translation"]["status"] == "completed"
    assert done["translated_texts"]["fr"].startswith("[fr] ")
