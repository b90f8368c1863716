"""ask_transcript over the simulator: the server reads transcripts itself and sends one grounded request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mcp.client import Client

from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, error_details, make_settings, text_of

pytestmark = pytest.mark.anyio

URL = "https://example.com/support-call.mp3"
CHAT = "/v1/chat/completions"
CONTEXT_READS = {"utterances": 0, "text": 0, "sentences": 1, "paragraphs": 1, "vtt": 1}


class Recording(httpx.AsyncBaseTransport):
    """The simulator behind a transport that keeps every outbound request, bodies included."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


@dataclass
class Rig:
    gateway: Gateway
    sim: Simulator
    client: Client
    transport: Recording

    async def create(self, **params: Any) -> str:
        result = await self.client.call_tool("create_transcript", {"audio_url": URL, **params})
        assert not result.is_error, result.content
        return str(result.structured_content["id"])

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.transport.requests if r.method == method and r.url.path == path]

    def chat_bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.sent("POST", CHAT)]


async def rig_with(delay: float = 0.0, **settings: Any) -> AsyncIterator[Rig]:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=delay))
    transport = Recording(httpx.ASGITransport(app=app))
    gateway = build_gateway(make_settings(**settings), transport=transport)
    try:
        async with Client(build_server(gateway)) as client:
            yield Rig(gateway, app.state.simulator, client, transport)
    finally:
        await gateway.aclose()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async for made in rig_with():
        yield made


def error_text(result: Any) -> str:
    assert result.is_error, result.content
    return str(result.content[0].text)


@pytest.mark.parametrize("context", sorted(CONTEXT_READS))
@pytest.mark.parametrize("count", [1, 3])
async def test_each_context_reaches_the_gateway_as_one_grounded_request(
    rig: Rig, context: str, count: int
) -> None:
    ids = [await rig.create(speaker_labels=True) for _ in range(count)]
    before = len(rig.transport.requests)
    result = await rig.client.call_tool(
        "ask_transcript", {"transcript_ids": ids, "prompt": "Why did the customer call?", "context": context}
    )
    assert not result.is_error, result.content
    [body] = rig.chat_bodies()
    assert set(body) == {"model", "messages", "max_tokens"}
    assert (body["model"], body["max_tokens"]) == ("claude-sonnet-4-6", 1000)
    system, user = body["messages"]
    assert system["role"] == "system" and "only the transcripts" in system["content"]
    assert user["role"] == "user"
    assert user["content"].endswith("\n\nQuestion/task: Why did the customer call?")
    for transcript_id in ids:
        assert user["content"].count(f"=== Transcript {transcript_id} ===") == 1
    assert_context_shape(context, user["content"])
    out = result.structured_content
    assert out["answer"].startswith("Simulated claude-sonnet-4-6 answer")
    assert (out["transcript_ids"], out["context"], out["model"]) == (ids, context, "claude-sonnet-4-6")
    assert out["context_chars"] == len(user["content"].rsplit("\n\nQuestion/task: ", 1)[0])
    assert out["usage"]["input_tokens"] > 0 and out["request_id"]
    # One read per transcript, one more for contexts with their own endpoint, the gateway's model
    # list (read once, then cached), one gateway call.
    assert len(rig.transport.requests) - before == count * (1 + CONTEXT_READS[context]) + 2


def assert_context_shape(context: str, content: str) -> None:
    if context in ("utterances", "sentences"):
        assert "\n[00:00] A: Thank you for calling" in content
        assert "] B: " in content
    elif context == "paragraphs":
        assert "\n[00:00] " in content and "Thank you for calling" in content
    elif context == "vtt":
        assert "WEBVTT" in content and " --> " in content
    else:
        assert "Thank you for calling" in content and "[00:00]" not in content


async def test_utterances_fall_back_to_text_without_speaker_labels(rig: Rig) -> None:
    plain = await rig.create()
    result = await rig.client.call_tool("ask_transcript", {"transcript_ids": [plain], "prompt": "Summarise."})
    assert result.structured_content["context"] == "utterances"
    [note] = result.structured_content["notes"]
    assert plain in note and "plain text" in note
    assert note in text_of(result)
    assert "[00:00]" not in rig.chat_bodies()[0]["messages"][1]["content"]


async def test_model_and_max_tokens_are_passed_on_and_duplicate_ids_read_once(rig: Rig) -> None:
    transcript_id = await rig.create(speaker_labels=True)
    before = len(rig.transport.requests)
    result = await rig.client.call_tool(
        "ask_transcript",
        {
            "transcript_ids": [transcript_id, transcript_id],
            "prompt": "Q",
            "model": "gpt-5-mini",
            "max_tokens": 50,
        },
    )
    assert result.structured_content["model"] == "gpt-5-mini"
    assert result.structured_content["transcript_ids"] == [transcript_id]
    body = rig.chat_bodies()[0]
    assert (body["model"], body["max_tokens"]) == ("gpt-5-mini", 50)
    assert len(rig.transport.requests) - before == 3  # the model list, one read, one chat


async def test_not_completed_transcript_is_refused_before_the_gateway() -> None:
    async for rig in rig_with(delay=60.0):
        done_later = await rig.create(speaker_labels=True)
        result = await rig.client.call_tool("ask_transcript", {"transcript_ids": [done_later], "prompt": "Q"})
        message = error_text(result)
        assert done_later in message and "not completed" in message and "wait_for_transcript" in message
        assert "queued" in message or "processing" in message
        assert rig.sent("POST", CHAT) == []


async def test_unknown_transcript_says_which_read_failed(rig: Rig) -> None:
    result = await rig.client.call_tool("ask_transcript", {"transcript_ids": ["nope"], "prompt": "Q"})
    assert "Reading transcript nope failed" in error_text(result)
    assert error_details(result)["status"] == 404
    assert rig.sent("POST", CHAT) == []


def only_the_model_list_was_read(rig: Rig) -> bool:
    return [(r.method, r.url.path) for r in rig.transport.requests] == [("GET", "/v1/models")]


async def test_unknown_model_is_refused_after_reading_only_the_model_list(rig: Rig) -> None:
    result = await rig.client.call_tool(
        "ask_transcript", {"transcript_ids": ["abc"], "prompt": "Q", "model": "gpt-2"}
    )
    message = error_text(result)
    assert "'gpt-2'" in message and "Close matches: gpt-5" in message and "list_llm_models" in message
    assert only_the_model_list_was_read(rig)


async def test_eu_region_refuses_openai_models_the_eu_list_lacks() -> None:
    async for rig in rig_with(region="eu"):
        result = await rig.client.call_tool(
            "ask_transcript", {"transcript_ids": ["abc"], "prompt": "Q", "model": "gpt-5"}
        )
        message = error_text(result)
        assert "EU" in message and "gpt-5-mini" not in message
        assert only_the_model_list_was_read(rig)


async def test_too_many_transcripts_are_refused_with_no_upstream_call() -> None:
    async for rig in rig_with(ask_max_transcripts=2):
        result = await rig.client.call_tool(
            "ask_transcript", {"transcript_ids": ["a", "b", "c"], "prompt": "Q"}
        )
        assert "at most 2" in error_text(result)
        assert rig.transport.requests == []


async def test_too_large_context_is_refused_before_the_gateway() -> None:
    async for rig in rig_with(ask_max_context_chars=1_000):
        transcript_id = await rig.create(speaker_labels=True)
        result = await rig.client.call_tool(
            "ask_transcript", {"transcript_ids": [transcript_id], "prompt": "Q", "context": "vtt"}
        )
        message = error_text(result)
        assert "limit of 1,000" in message and "smaller context" in message and "fewer transcripts" in message
        assert rig.sent("POST", CHAT) == []


async def test_gateway_429_is_passed_through_with_rate_limit_fields(rig: Rig) -> None:
    transcript_id = await rig.create(speaker_labels=True)
    rig.sim.queue_fault("429", path_prefix=CHAT)
    result = await rig.client.call_tool("ask_transcript", {"transcript_ids": [transcript_id], "prompt": "Q"})
    error = error_details(result)
    assert result.is_error
    assert (error["status"], error["kind"], error["retryable"]) == (429, "rate_limited", True)
    assert error["message"].startswith("Asking claude-sonnet-4-6 through the LLM Gateway failed")
    assert error["ratelimit-limit"] == 30 and error["ratelimit-remaining"] == 0
    assert error["retry_after_seconds"] == 2
    assert len(rig.sent("POST", CHAT)) == 1, "a POST is never retried"


async def test_missing_arguments_are_refused_by_the_schema(rig: Rig) -> None:
    result = await rig.client.call_tool("ask_transcript", {"prompt": "Q"})
    assert "transcript_ids" in error_text(result)
    result = await rig.client.call_tool("ask_transcript", {"transcript_ids": ["a b"], "prompt": "Q"})
    assert "transcript_ids.0" in error_text(result)
    assert rig.transport.requests == []
