"""transcribe(prefer="speed"): the Sync API for short local clips with only sync-capable options, the
async API otherwise; the result says which path ran and why."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
import respx
from mcp.client import Client

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, error_details, make_settings, text_of, wav_bytes

pytestmark = pytest.mark.anyio

SYNC_US = "https://sync.assemblyai.com/v1/transcribe/live"
ANSWER = {
    "text": "Quick note.",
    "confidence": 0.9,
    "audio_duration_ms": 2000,
    "session_id": "sess-1",
    "words": [],
}


async def simulated(args: dict[str, Any]) -> tuple[Any, list[httpx.Request]]:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    transport = httpx.ASGITransport(app=app)
    gateway = build_gateway(make_settings(wait_poll_initial_seconds=0.01), transport=transport)
    gateway.upstream._clients["sync"].event_hooks["request"].append(record)
    gateway.upstream._clients["api"].event_hooks["request"].append(record)
    try:
        async with Client(build_server(gateway)) as client:
            return await client.call_tool("transcribe", args), sent
    finally:
        await gateway.aclose()


def clip(seconds: float = 2.0) -> str:
    return base64.b64encode(wav_bytes(seconds)).decode()


async def test_speed_with_a_short_clip_runs_the_sync_path() -> None:
    result, sent = await simulated({"data_base64": clip(), "prefer": "speed", "language_code": "en"})
    assert not result.is_error, text_of(result)
    out = result.structured_content
    assert out["transcription_path"] == "sync" and out["status"] == "completed"
    assert out["text"] and out["audio_duration"] == 2.0 and out["speech_model_used"] == "universal-3-5-pro"
    assert "Sync API" in out["next_step"]
    assert [r.url.host for r in sent] == ["sync.assemblyai.com"]  # no upload, no job, no polling


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ({"data_base64": clip(), "speaker_labels": True}, "does not offer speaker_labels"),
        ({"data_base64": clip(130.0)}, "120 s"),
        ({"audio_url": "https://example.com/a.wav"}, "audio_url audio goes to the async API"),
    ],
)
async def test_otherwise_the_async_path_runs_and_says_why(args: dict[str, Any], why: str) -> None:
    result, sent = await simulated({**args, "prefer": "speed"})
    assert not result.is_error, text_of(result)
    out = result.structured_content
    assert out["transcription_path"] == "async" and why in out["sync_declined"]
    assert out["status"] == "completed" and out["id"]
    assert all(r.url.host == "api.assemblyai.com" for r in sent)


async def test_without_prefer_the_async_path_runs() -> None:
    result, sent = await simulated({"data_base64": clip()})
    out = result.structured_content
    assert out["transcription_path"] == "async" and "sync_declined" not in out
    assert {r.url.host for r in sent} == {"api.assemblyai.com"}


async def test_a_sync_429_is_passed_through_not_hidden_by_a_fallback(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(SYNC_US).respond(429, json={"detail": "Too many"}, headers={"Retry-After": "3"})
    gateway = build_gateway(make_settings())
    try:
        async with Client(build_server(gateway)) as client:
            result = await client.call_tool("transcribe", {"data_base64": clip(), "prefer": "speed"})
    finally:
        await gateway.aclose()
    details = error_details(result)
    assert details["kind"] == "rate_limited" and details["retry_after_seconds"] == 3
    assert "Sync API" in text_of(result)
    assert len(respx_mock.calls) == 1  # nothing sent to the async API


async def test_keyterms_and_prompt_reach_the_sync_config(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(SYNC_US).respond(200, json=ANSWER)
    gateway = build_gateway(make_settings())
    try:
        async with Client(build_server(gateway)) as client:
            args = {
                "data_base64": clip(),
                "prefer": "speed",
                "keyterms_prompt": ["Northwind"],
                "prompt": "Be exact.",
            }
            result = await client.call_tool("transcribe", args)
    finally:
        await gateway.aclose()
    assert not result.is_error, text_of(result)
    body = route.calls.last.request.content
    config = body.split(b"\r\n\r\n", 1)[1].split(b"\r\n", 1)[0]
    assert config == b'{"prompt":"Be exact.","keyterms_prompt":["Northwind"]}'
