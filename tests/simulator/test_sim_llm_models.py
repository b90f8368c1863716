"""LLM Gateway 2026-10 additions: the model list, understanding validate, conforming structured outputs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema import Draft202012Validator

from aai_mcp.simulator.llm_structured import conforming_instance

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio
MODEL = "gpt-5-mini"
SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "minItems": 2,
                "items": {
                    "type": "object",
                    "properties": {"explanation": {"type": "string"}, "output": {"type": "string"}},
                    "required": ["explanation", "output"],
                    "additionalProperties": False,
                },
            },
            "final_answer": {"type": "string", "minLength": 12},
        },
        "required": ["steps", "final_answer"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "$defs": {
            "person": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
        },
        "properties": {
            "speaker": {"$ref": "#/$defs/person"},
            "score": {"type": "integer", "minimum": 3, "maximum": 9},
            "ratio": {"type": "number", "exclusiveMinimum": 0},
            "mood": {"enum": ["calm", "angry"]},
            "when": {"type": "string", "format": "date"},
            "note": {"type": ["string", "null"], "maxLength": 4},
            "kind": {"const": "call"},
            "either": {"anyOf": [{"type": "boolean"}, {"type": "string"}]},
            "both": {"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}]},
        },
        "required": ["speaker", "score", "ratio", "mood", "when", "kind", "either", "both"],
    },
    {"type": "array", "items": {"type": "string"}, "maxItems": 3},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_generated_answers_conform_to_the_schema(schema: dict[str, Any]) -> None:
    instance = conforming_instance(schema)
    assert not list(Draft202012Validator(schema).iter_errors(instance)), instance


async def test_models_list_has_the_sdk_shape_without_a_key(sim: Harness) -> None:
    response = await sim.client.get("/v1/models", headers={"Authorization": ""})
    assert response.status_code == 200
    data = response.json()["data"]
    ids = [model["id"] for model in data]
    assert MODEL in ids and "claude-sonnet-4-6" in ids and len(ids) == len(set(ids))
    first = data[0]
    assert {"id", "name", "creator", "context_length", "pricing", "available_regions"} <= set(first)
    assert first["pricing"]["global"]["prompt"] > 0 and first["retirement_date"] == 0


async def test_every_listed_model_is_one_chat_accepts(sim: Harness) -> None:
    data = (await sim.client.get("/v1/models")).json()["data"]
    for model in data:
        body = {"model": model["id"], "prompt": "hi"}
        assert (await sim.client.post("/v1/chat/completions", json=body)).status_code == 200


async def test_validate_accepts_a_good_request_without_a_transcript(sim: Harness) -> None:
    body = {"speech_understanding": {"request": {"translation": {"target_languages": ["es"]}}}}
    response = await sim.client.post("/v1/understanding/validate", json=body)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "request_body",
    [{}, {"translation": {"target_languages": []}}, {"translation": {}, "custom_formatting": {}}],
)
async def test_validate_lists_what_is_wrong(sim: Harness, request_body: dict[str, Any]) -> None:
    body = {"speech_understanding": {"request": request_body}}
    response = await sim.client.post("/v1/understanding/validate", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid_request" and error["request_id"]
    assert error["metadata"]["errors"] and all(isinstance(item, str) for item in error["metadata"]["errors"])


async def test_validate_needs_a_key(sim: Harness) -> None:
    body = {"speech_understanding": {"request": {"translation": {"target_languages": ["es"]}}}}
    response = await sim.client.post(
        "/v1/understanding/validate", json=body, headers={"Authorization": "bad"}
    )
    assert response.status_code == 401 and response.json()["error"] == "Invalid API key"


async def test_structured_chat_answer_validates_against_the_requested_schema(sim: Harness) -> None:
    schema = SCHEMAS[0]
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "math", "schema": schema, "strict": True},
    }
    body = {"model": MODEL, "prompt": "8x + 7 = -23", "response_format": response_format}
    answer = (await sim.client.post("/v1/chat/completions", json=body)).json()
    parsed = json.loads(answer["choices"][0]["message"]["content"])
    assert not list(Draft202012Validator(schema).iter_errors(parsed))
    assert len(parsed["steps"]) == 2


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/models", None),
        ("POST", "/v1/understanding/validate", {"speech_understanding": {"request": {"translation": {}}}}),
    ],
)
@pytest.mark.parametrize(("fault", "status"), [("429", 429), ("500", 500), ("503", 503)])
async def test_faults_apply_to_the_new_endpoints(
    sim: Harness, method: str, path: str, body: Any, fault: str, status: int
) -> None:
    sim.simulator.queue_fault(fault, count=1, path_prefix=path)
    faulted = await sim.client.request(method, path, json=body)
    assert faulted.status_code == status
    if status == 429:
        assert faulted.headers["x-ratelimit-remaining"] == "0"
    again = await sim.client.request(method, path, json=body)
    assert again.status_code in (200, 400) and again.status_code != status


async def test_an_invalid_answer_schema_is_a_400_not_a_crash(sim: Harness) -> None:
    schema = {"type": "object", "required": True}
    response_format = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema}}
    body = {"model": MODEL, "prompt": "0", "response_format": response_format}
    response = await sim.client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400 and "not a valid JSON Schema" in response.json()["message"]
