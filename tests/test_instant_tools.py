"""transcribe_clip (Sync STT) and dictate (Dictation): the exact request each sends (host, model
header, config-first multipart), the limits refused before sending, and 429s passed through."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
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
SYNC_EU = "https://sync.eu.assemblyai.com/v1/transcribe/live"
DICTATION_US = "https://dictation.assemblyai.com/v1/transcribe/live"
SYNC_ANSWER = {
    "text": "Hello there.",
    "confidence": 0.93,
    "audio_duration_ms": 1500,
    "session_id": "4f1d1c36-0c3f-4c3b-9c3a-2b8e0c1d2e3f",
    "request_time_ms": 310.5,
    "words": [{"text": "Hello", "confidence": 0.9, "start": 0, "end": 400}],
}


async def call(tool: str, args: dict[str, Any], **settings: Any) -> Any:
    gateway = build_gateway(make_settings(**settings))
    try:
        async with Client(build_server(gateway)) as client:
            return await client.call_tool(tool, args)
    finally:
        await gateway.aclose()


async def simulated(tool: str, args: dict[str, Any], **settings: Any) -> Any:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    gateway = build_gateway(make_settings(**settings), transport=httpx.ASGITransport(app=app))
    try:
        async with Client(build_server(gateway)) as client:
            return await client.call_tool(tool, args)
    finally:
        await gateway.aclose()


def b64(audio: bytes) -> str:
    return base64.b64encode(audio).decode()


def parts(request: httpx.Request) -> list[tuple[str, str, bytes]]:
    """(name, content type, content) of each multipart part, in the order sent."""
    boundary = re.search(r"boundary=(\S+)", request.headers["content-type"])
    assert boundary, request.headers["content-type"]
    found = []
    for piece in request.content.split(b"--" + boundary.group(1).encode())[1:-1]:
        head, _, body = piece.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        text = head.decode()
        name = re.search(r'name="([^"]*)"', text)
        kind = re.search(r"Content-Type: (\S+)", text)
        found.append((name.group(1) if name else "", kind.group(1) if kind else "", body[:-2]))
    return found


async def test_sync_sends_config_first_with_the_model_header(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(SYNC_US).respond(200, json=SYNC_ANSWER)
    audio = wav_bytes(1.5)
    result = await call(
        "transcribe_clip",
        {"data_base64": b64(audio), "keyterms_prompt": [" Northwind ", ""], "timestamps": True},
    )
    assert not result.is_error, text_of(result)
    request = route.calls.last.request
    assert request.headers["x-aai-model"] == "universal-3-5-pro"
    assert request.headers["authorization"] == CANARY_KEY  # the raw key, no Bearer
    sent = parts(request)
    assert [name for name, _, _ in sent] == ["config", "audio"]
    assert sent[0][1] == "application/json" and sent[1][1] == "audio/wav"
    assert json.loads(sent[0][2]) == {"keyterms_prompt": ["Northwind"], "timestamps": True}
    assert sent[1][2] == audio
    out = result.structured_content
    assert out["text"] == "Hello there." and out["audio_duration_seconds"] == 1.5
    assert out["model"] == "universal-3-5-pro" and out["words"][0]["end"] == 400
    assert "Hello there." in text_of(result)


async def test_the_eu_region_uses_the_eu_sync_host(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(SYNC_EU).respond(200, json=SYNC_ANSWER)
    result = await call("transcribe_clip", {"data_base64": b64(wav_bytes(1.0))}, region="eu")
    assert not result.is_error, text_of(result)
    assert route.call_count == 1


async def test_raw_pcm_needs_rate_and_channels_and_sends_them(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(SYNC_US).respond(200, json=SYNC_ANSWER)
    pcm = bytes(16000 * 2)  # one second of 16 kHz mono 16-bit
    missing = await call("transcribe_clip", {"data_base64": b64(pcm), "sample_rate": 16000})
    assert missing.is_error and "channels" in text_of(missing)
    ok = await call("transcribe_clip", {"data_base64": b64(pcm), "sample_rate": 16000, "channels": 1})
    assert not ok.is_error, text_of(ok)
    sent = parts(route.calls.last.request)
    assert sent[1][1] == "audio/pcm"
    assert json.loads(sent[0][2]) == {"sample_rate": 16000, "channels": 1}
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("audio", "words"),
    [
        (wav_bytes(121.0), "120 s"),
        (wav_bytes(0.05), "80 ms"),
        (b"ID3" + bytes(5000), "WAV or raw 16-bit PCM"),
    ],
)
async def test_clips_beyond_the_limits_are_refused_before_sending(
    audio: bytes, words: str, respx_mock: respx.MockRouter
) -> None:
    result = await call("transcribe_clip", {"data_base64": b64(audio)}, upload_max_base64_bytes=10**8)
    assert error_details(result)["kind"] == "invalid_arguments"
    assert words in text_of(result)
    assert not respx_mock.calls


async def test_a_file_over_40_mb_is_refused_before_reading_it(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    big = tmp_path / "big.wav"
    with big.open("wb") as out:
        out.truncate(40_000_001)
    result = await call("transcribe_clip", {"path": str(big)}, upload_roots=[tmp_path])
    assert result.is_error and "40 MB" in text_of(result)
    assert not respx_mock.calls


async def test_a_path_reads_under_the_roots_only(tmp_path: Path, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(SYNC_US).respond(200, json=SYNC_ANSWER)
    (tmp_path / "note.wav").write_bytes(wav_bytes(1.0))
    ok = await call("transcribe_clip", {"path": str(tmp_path / "note.wav")}, upload_roots=[tmp_path])
    assert not ok.is_error, text_of(ok)
    assert parts(route.calls.last.request)[1][2] == wav_bytes(1.0)
    outside = await call("transcribe_clip", {"path": "/etc/passwd"}, upload_roots=[tmp_path])
    assert outside.is_error and route.call_count == 1
    no_roots = await call("transcribe_clip", {"path": str(tmp_path / "note.wav")})
    assert no_roots.is_error and "upload roots" in text_of(no_roots)


async def test_a_429_is_passed_through_with_retry_after(respx_mock: respx.MockRouter) -> None:
    problem = {"status": 429, "title": "Too Many Requests", "detail": "Slow down"}
    respx_mock.post(SYNC_US).respond(429, json=problem, headers={"Retry-After": "7"})
    result = await call("transcribe_clip", {"data_base64": b64(wav_bytes(1.0))})
    details = error_details(result)
    assert details["kind"] == "rate_limited" and details["retry_after_seconds"] == 7
    assert "Slow down" in text_of(result)


async def test_a_problem_details_refusal_reads_its_detail(respx_mock: respx.MockRouter) -> None:
    problem = {"status": 413, "title": "Audio Too Large", "detail": "Audio is longer than 120 seconds."}
    respx_mock.post(SYNC_US).respond(413, json=problem)
    result = await call("transcribe_clip", {"data_base64": b64(wav_bytes(1.0))})
    assert error_details(result)["kind"] == "upstream_rejected"
    assert "longer than 120 seconds" in text_of(result)
    assert CANARY_KEY not in text_of(result)


async def test_dictate_sends_its_config_without_a_model_header(respx_mock: respx.MockRouter) -> None:
    answer = {
        "text": "um send the report",
        "words": [{"text": "send", "confidence": 0.9}],
        "confidence": 0.9,
        "llm_response": "Send the report.",
        "llm_error": None,
        "audio_duration_ms": 1000,
        "session_id": "s-1",
        "request_time_ms": 500.0,
        "sync_time_ms": 200.0,
    }
    route = respx_mock.post(DICTATION_US).respond(200, json=answer)
    result = await call(
        "dictate",
        {"data_base64": b64(wav_bytes(1.0)), "llm_instruction": "Make it an email.", "rewrite_mode": "smart"},
    )
    assert not result.is_error, text_of(result)
    request = route.calls.last.request
    assert "x-aai-model" not in request.headers
    sent = parts(request)
    assert [name for name, _, _ in sent] == ["config", "audio"]
    assert json.loads(sent[0][2]) == {"llm_instruction": "Make it an email.", "rewrite_mode": "smart"}
    out = result.structured_content
    assert out["final_text"] == "Send the report." and out["text"] == "um send the report"
    assert "llm_error" not in out


async def test_a_failed_rewrite_falls_back_to_the_verbatim_text(respx_mock: respx.MockRouter) -> None:
    answer = {
        "text": "hello",
        "words": [],
        "confidence": 0.9,
        "llm_response": None,
        "llm_error": "LLM timed out",
        "audio_duration_ms": 1000,
        "session_id": "s-2",
    }
    respx_mock.post(DICTATION_US).respond(200, json=answer)
    result = await call("dictate", {"data_base64": b64(wav_bytes(1.0))})
    out = result.structured_content
    assert out["final_text"] == "hello" and out["llm_error"] == "LLM timed out"
    assert "rewrite failed" in text_of(result)


async def test_both_tools_answer_from_the_simulator() -> None:
    clip = await simulated("transcribe_clip", {"data_base64": b64(wav_bytes(4.0)), "timestamps": True})
    assert not clip.is_error, text_of(clip)
    assert clip.structured_content["audio_duration_seconds"] == 4.0
    assert clip.structured_content["words"][0]["start"] == 0
    dictated = await simulated(
        "dictate", {"data_base64": b64(wav_bytes(2.0)), "llm_instruction": "A bulleted list, please."}
    )
    assert not dictated.is_error, text_of(dictated)
    assert dictated.structured_content["final_text"].startswith("- ")


async def test_without_a_key_the_in_process_simulator_answers_both() -> None:
    # Simulated mode: the gateway's own simulator, each API under its prefix on the one base URL.
    clip = await call("transcribe_clip", {"data_base64": b64(wav_bytes(1.0))}, api_key=None)
    assert not clip.is_error, text_of(clip)
    assert clip.structured_content["audio_duration_seconds"] == 1.0
    assert (clip.meta or {}).get("aai-mcp/simulated") is True
    dictated = await call("dictate", {"data_base64": b64(wav_bytes(1.0))}, api_key=None)
    assert not dictated.is_error, text_of(dictated)
    assert dictated.structured_content["final_text"]


async def test_context_is_trimmed_oldest_first_and_keyterms_are_bounded(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(SYNC_US).respond(200, json=SYNC_ANSWER)
    turns = [f"turn {index}" for index in range(600)]
    ok = await call("transcribe_clip", {"data_base64": b64(wav_bytes(1.0)), "conversation_context": turns})
    assert not ok.is_error, text_of(ok)
    sent = json.loads(parts(route.calls.last.request)[0][2])["conversation_context"]
    assert sent == turns[100:]  # the 500 newest turns, in order
    big = await call(
        "transcribe_clip", {"data_base64": b64(wav_bytes(1.0)), "keyterms_prompt": ["a" * 4500] * 2}
    )
    assert error_details(big)["kind"] == "invalid_arguments" and "8000" in text_of(big)
    assert route.call_count == 1


@pytest.mark.parametrize("args", [{}, {"path": "/a.wav", "data_base64": "AAAA"}])
async def test_exactly_one_clip_source(args: dict[str, Any], respx_mock: respx.MockRouter) -> None:
    result = await call("dictate", args)
    assert error_details(result)["kind"] == "invalid_arguments" and "exactly one" in text_of(result)
    assert not respx_mock.calls
