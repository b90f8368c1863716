"""Fidelity: the official SDK's LLM Gateway client (`assemblyai.LLMGateway`, 1.8.2) against the
simulator over a real loopback socket: list models, a chat completion, a structured output, and
understanding validate (both outcomes, the error read through the SDK's own envelope parser)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import assemblyai as aai
import pytest
from jsonschema import Draft202012Validator

from tests.simulator.test_sim_llm_models import SCHEMAS

if TYPE_CHECKING:
    from tests.support.simulator_harness import LiveServer

# The SDK still calls pydantic v1-style `.dict()`/`.parse_obj()`, which warn under pydantic 2.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
MODEL = "gemini-2.5-flash-lite"


@pytest.fixture
def gateway(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[aai.LLMGateway]:
    monkeypatch.setattr(aai.settings, "llm_gateway_base_url", live_server.base_url)
    monkeypatch.setattr(aai.settings, "api_key", "sim-key")
    monkeypatch.setattr(aai.Client, "_default", None)
    yield aai.LLMGateway()
    if aai.Client._default is not None:
        aai.Client._default.http_client.close()


def test_sdk_lists_models(gateway: aai.LLMGateway) -> None:
    models = gateway.models.list().data
    ids = {model.id for model in models}
    assert MODEL in ids and "claude-sonnet-4-6" in ids
    assert all(model.pricing is not None and model.pricing.global_ is not None for model in models)


def test_sdk_chat_completion(gateway: aai.LLMGateway) -> None:
    completion = gateway.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=50
    )
    assert completion.request_id and completion.choices[0].message.content
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_sdk_structured_output_matches_the_schema(gateway: aai.LLMGateway) -> None:
    schema = SCHEMAS[0]
    completion = gateway.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "how can I solve 8x + 7 = -23"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "math", "schema": schema, "strict": True},
        },
    )
    parsed = json.loads(completion.choices[0].message.content or "")
    assert not list(Draft202012Validator(schema).iter_errors(parsed))


def test_sdk_validate_passes_and_reports_errors(gateway: aai.LLMGateway) -> None:
    gateway.understanding.validate(request={"translation": {"target_languages": ["es"]}})  # no raise: valid
    with pytest.raises(aai.types.LLMGatewayError) as refused:
        gateway.understanding.validate(request={"translation": {"target_languages": []}})
    assert refused.value.status_code == 400 and refused.value.request_id
    assert refused.value.errors and "target_languages" in refused.value.errors[0]
