"""extract_from_transcript over the simulator: one structured request per transcript built from the
kit, an answer checked against the kit's schema, every quote checked against the transcript (found:
verified with times; made up: flagged), and clear errors for bad kits, bad answers and too many ids."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mcp.client import Client

from aai_mcp.extraction.evidence import tokens
from aai_mcp.extraction.kits import available_kits
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, make_settings, text_of

pytestmark = pytest.mark.anyio

URL = "https://example.com/support-call.mp3"
CHAT = "/v1/chat/completions"
MADE_UP = "we will send you a free phone"
Rewrite = Callable[[dict[str, Any]], Any]


class Intercepting(httpx.AsyncBaseTransport):
    """The simulator, keeping every chat body; `rewrite` (when set) changes the model's structured
    answer, as a model that makes up a quote or breaks the schema would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.chat_bodies: list[dict[str, Any]] = []
        self.rewrite: Rewrite | None = None
        self.status: int | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self.inner.handle_async_request(request)
        if request.url.path != CHAT:
            return response
        self.chat_bodies.append(json.loads(request.content))
        if self.status is not None:
            return httpx.Response(self.status, json={"error": "The model is overloaded"})
        if self.rewrite is None:
            return response
        completion = json.loads(await response.aread())
        answer = json.loads(completion["choices"][0]["message"]["content"])
        changed = self.rewrite(answer)
        content = changed if isinstance(changed, str) else json.dumps(changed)
        completion["choices"][0]["message"]["content"] = content
        return httpx.Response(200, json=completion)


@dataclass
class Rig:
    gateway: Gateway
    sim: Simulator
    client: Client
    transport: Intercepting

    async def create(self, **params: Any) -> str:
        result = await self.client.call_tool("create_transcript", {"audio_url": URL, **params})
        assert not result.is_error, result.content
        return str(result.structured_content["id"])

    async def extract(self, ids: list[str], kit: str = "support-call-qa", **more: Any) -> Any:
        return await self.client.call_tool(
            "extract_from_transcript", {"transcript_ids": ids, "kit": kit, **more}
        )

    def words_of(self, transcript_id: str) -> str:
        record = self.sim.transcripts.get(transcript_id)
        assert record is not None
        return " ".join(tokens(record.content.text))


async def rig_with(delay: float) -> AsyncIterator[Rig]:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=delay))
    transport = Intercepting(httpx.ASGITransport(app=app))
    gateway = build_gateway(make_settings(), transport=transport)
    try:
        async with Client(build_server(gateway)) as client:
            yield Rig(gateway, app.state.simulator, client, transport)
    finally:
        await gateway.aclose()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async for made in rig_with(0):
        yield made


@pytest.fixture
async def slow_rig() -> AsyncIterator[Rig]:
    async for made in rig_with(3600):
        yield made


def evidence_of(result: Any) -> list[dict[str, Any]]:
    return [
        quote
        for item in result.structured_content["results"]
        for field in item["fields"].values()
        for quote in field["evidence"]
    ]


@pytest.mark.parametrize("kit", ["support-call-qa", "sales-call"])
async def test_each_shipped_kit_answers_every_field_with_verified_timed_evidence(rig: Rig, kit: str) -> None:
    transcript_id = await rig.create(speaker_labels=True)
    result = await rig.extract([transcript_id], kit)
    assert not result.is_error, result.content
    [body] = rig.transport.chat_bodies
    assert body["response_format"]["type"] == "json_schema"
    assert body["temperature"] == 0
    assert f'<transcript id="{transcript_id}">' in body["messages"][1]["content"]
    [item] = result.structured_content["results"]
    assert set(item["fields"]) == set(available_kits()[kit].fields)
    assert item["reused"] is False and item["unverified_quotes"] == 0
    quotes = evidence_of(result)
    assert quotes and item["verified_quotes"] == len(quotes)
    spoken = rig.words_of(transcript_id)
    for quote in quotes:
        assert quote["verified"] is True
        assert " ".join(tokens(quote["quote"])) in spoken
        assert 0 <= quote["start"] < quote["end"]
    assert "NOT found" in text_of(result) and "NOT FOUND" not in text_of(result)


async def test_a_quote_the_transcript_does_not_hold_is_flagged_never_passed_off(rig: Rig) -> None:
    transcript_id = await rig.create(speaker_labels=True)

    def made_up(answer: dict[str, Any]) -> dict[str, Any]:
        answer["resolution"]["evidence"] = [{"quote": MADE_UP}, *answer["resolution"]["evidence"]]
        return answer

    rig.transport.rewrite = made_up
    result = await rig.extract([transcript_id])
    assert not result.is_error, result.content
    [item] = result.structured_content["results"]
    flagged, *real = item["fields"]["resolution"]["evidence"]
    assert flagged == {"quote": MADE_UP, "verified": False}
    assert real and all(quote["verified"] for quote in real)
    assert item["unverified_quotes"] == 1
    assert f'"{MADE_UP}" NOT FOUND in the transcript' in text_of(result)


@pytest.mark.parametrize(
    ("rewrite", "expected"),
    [
        (lambda answer: "not json at all", "is not JSON"),
        (lambda answer: {**answer, "resolution": {"value": "maybe", "evidence": [], "confidence": 1}},
         "resolution.value: 'maybe' is not one of"),
        (lambda answer: {k: v for k, v in answer.items() if k != "risk_flag"}, "does not have the shape"),
        (lambda answer: {**answer, "risk_flag": {"value": True, "evidence": [], "confidence": 7}},
         "risk_flag.confidence"),
    ],
)  # fmt: skip
async def test_an_answer_that_breaks_the_kit_is_a_clear_error(
    rig: Rig, rewrite: Rewrite, expected: str
) -> None:
    transcript_id = await rig.create(speaker_labels=True)
    rig.transport.rewrite = rewrite
    result = await rig.extract([transcript_id])
    assert result.is_error
    assert expected in text_of(result)
    assert "Extracting with kit support-call-qa" in text_of(result)


async def test_an_unknown_kit_names_the_kits_there_are(rig: Rig) -> None:
    transcript_id = await rig.create()
    result = await rig.extract([transcript_id], "nope")
    assert result.is_error
    assert "No extraction kit 'nope'. Use one of: sales-call, support-call-qa." in text_of(result)
    assert rig.transport.chat_bodies == []


async def test_too_many_transcripts_are_refused_before_any_request(rig: Rig) -> None:
    before = len(rig.sim.requests)
    result = await rig.extract([f"t{i}" for i in range(6)])
    assert result.is_error and "at most 5" in text_of(result)
    assert len(rig.sim.requests) == before


async def test_a_transcript_that_is_not_completed_is_refused(slow_rig: Rig) -> None:
    transcript_id = await slow_rig.create()
    result = await slow_rig.extract([transcript_id])
    assert result.is_error and "wait_for_transcript" in text_of(result)
    assert slow_rig.transport.chat_bodies == []


async def test_without_speaker_labels_the_text_is_used_and_quotes_still_get_times(rig: Rig) -> None:
    transcript_id = await rig.create()
    result = await rig.extract([transcript_id], "sales-call")
    assert not result.is_error, result.content
    assert "[00:00]" not in rig.transport.chat_bodies[0]["messages"][1]["content"]
    quotes = evidence_of(result)
    assert quotes and all(q["verified"] and q["end"] > q["start"] for q in quotes)


async def test_the_simulated_answer_is_deterministic(rig: Rig) -> None:
    transcript_id = await rig.create(speaker_labels=True)
    first = await rig.extract([transcript_id], "sales-call")
    second = await rig.extract([transcript_id], "sales-call")
    assert len(rig.transport.chat_bodies) == 2  # no store: each call runs
    assert first.structured_content["results"] == second.structured_content["results"]


async def test_an_llm_gateway_failure_is_a_clear_error(rig: Rig) -> None:
    transcript_id = await rig.create(speaker_labels=True)
    rig.transport.status = 503
    result = await rig.extract([transcript_id])
    assert result.is_error
    assert "Asking claude-sonnet-4-6 through the LLM Gateway failed" in text_of(result)
