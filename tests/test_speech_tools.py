"""text_to_speech and create_tts_token, in process: on the built-in simulator, and against the real
hosts' addresses through respx (exact URL, headers, body)."""

from __future__ import annotations

import base64
import io
import json
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import mcp_types as types
import pytest
import respx
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from aai_mcp.access.principal import Principal
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.handlers.speech import INLINE_AUDIO_BYTES
from aai_mcp.mcp_server.speech_clips import CLIP_TTL_SECONDS, SpeechClips, clip_owner
from aai_mcp.simulator.speech_audio import MS_PER_CHARACTER
from aai_mcp.state.shared_memory import InProcessState
from aai_mcp.upstream import Upstream
from aai_mcp.upstream.client import host_timeout
from tests.support import CANARY_KEY, error_details, make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    built = build_gateway(make_settings(api_key=None, simulator_delay_seconds=0.0))
    try:
        yield built
    finally:
        await built.aclose()


def audio_block(result: types.CallToolResult) -> types.AudioContent:
    blocks = [block for block in result.content if isinstance(block, types.AudioContent)]
    assert len(blocks) == 1, result.content
    return blocks[0]


async def test_small_speech_comes_back_as_an_audio_block(gateway: Gateway) -> None:
    async with Client(build_server(gateway)) as client:
        result = await client.call_tool(
            "text_to_speech", {"text": "Hello world", "container": "wav", "sample_rate": 16000}
        )
    assert not result.is_error, result.content
    block = audio_block(result)
    assert block.mime_type == "audio/wav"
    with wave.open(io.BytesIO(base64.b64decode(block.data))) as wav:
        assert wav.getnframes() == 10 * MS_PER_CHARACTER * 16
    data = result.structured_content
    assert data is not None
    assert data["delivery"] == "inline" and "download" not in data
    assert data["audio_duration_ms"] == 10 * MS_PER_CHARACTER and data["billed_characters"] == 11
    assert (data["sample_rate"], data["container"], data["voice_id"]) == (16000, "wav", "aai-jane")
    assert data["bytes"] == len(base64.b64decode(block.data)) and data["request_id"]


async def test_large_speech_is_a_resource_only_its_maker_reads(gateway: Gateway) -> None:
    text = "x" * 200  # 12 s at 48 kHz, 16-bit: over the inline bound
    async with Client(build_server(gateway)) as client:
        result = await client.call_tool("text_to_speech", {"text": text, "sample_rate": 48000})
        assert not result.is_error, result.content
        data = result.structured_content
        assert data is not None and data["delivery"] == "resource"
        assert data["bytes"] == 200 * MS_PER_CHARACTER * 48 * 2 > INLINE_AUDIO_BYTES
        assert not [block for block in result.content if isinstance(block, types.AudioContent)]
        expires_at = datetime.fromisoformat(data["download"]["expires_at"].replace("Z", "+00:00"))
        assert 0 < (expires_at - datetime.now(UTC)).total_seconds() <= CLIP_TTL_SECONDS
        read = await client.read_resource(data["download"]["uri"])
    (contents,) = read.contents
    assert isinstance(contents, types.BlobResourceContents)
    assert contents.mime_type == "audio/pcm;rate=48000;channels=1"
    assert len(base64.b64decode(contents.blob)) == data["bytes"]


async def test_a_clip_is_refused_alike_to_another_caller_after_expiry_and_when_unknown() -> None:
    now = [1000.0]
    state = InProcessState()
    state.clock = lambda: now[0]
    clips = SpeechClips(state, clock=lambda: now[0])
    uri, expires_at = await clips.keep("alice", b"audio", "audio/mpeg")
    assert expires_at == 1000.0 + CLIP_TTL_SECONDS
    (contents,) = (await clips.read("alice", uri)).contents
    assert isinstance(contents, types.BlobResourceContents)
    assert (contents.mime_type, base64.b64decode(contents.blob)) == ("audio/mpeg", b"audio")
    refusals = []
    for owner, where in (
        ("bob", uri),
        ("alice", uri + "x"),
        ("alice", uri[:-1] + ("B" if uri.endswith("A") else "A")),  # same length, another id
        ("alice", "speech://clip/"),
    ):
        with pytest.raises(MCPError) as refused:
            await clips.read(owner, where)
        refusals.append(str(refused.value))
    now[0] += CLIP_TTL_SECONDS
    with pytest.raises(MCPError) as expired:
        await clips.read("alice", uri)
    assert len({*refusals, str(expired.value)}) == 1


async def test_held_clips_stay_within_their_byte_bound() -> None:
    clips = SpeechClips(InProcessState(max_blob_bytes=200))
    first, _ = await clips.keep("a", b"1" * 100, "audio/mpeg")
    second, _ = await clips.keep("a", b"2" * 100, "audio/mpeg")
    with pytest.raises(MCPError):
        await clips.read("a", first)  # the oldest went first
    assert (await clips.read("a", second)).contents


async def test_an_unknown_voice_is_a_readable_refusal(gateway: Gateway) -> None:
    async with Client(build_server(gateway)) as client:
        result = await client.call_tool("text_to_speech", {"text": "Hi", "voice_id": "aai-nobody"})
    assert result.is_error
    details = error_details(result)
    assert details["status"] == 404 and details["kind"] == "upstream_rejected"
    assert "not found" in details["message"]


async def test_arguments_are_bounded_before_anything_is_sent(gateway: Gateway) -> None:
    async with Client(build_server(gateway)) as client:
        too_long = await client.call_tool("text_to_speech", {"text": "x" * 5001})
        bad_rate = await client.call_tool("text_to_speech", {"text": "hi", "sample_rate": 11025})
    assert error_details(too_long)["kind"] == error_details(bad_rate)["kind"] == "invalid_arguments"


async def test_eu_speech_request_is_exact(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("https://tts.eu.assemblyai.com/v1/speech").respond(
        200,
        content=b"\xff\xf3" + bytes(100),
        headers={"content-type": "audio/mpeg", "x-tts-bit-rate": "32000", "x-tts-audio-duration-ms": "120"},
    )
    gateway = build_gateway(make_settings(region="eu"))
    try:
        async with Client(build_server(gateway)) as client:
            result = await client.call_tool(
                "text_to_speech",
                {"text": "Hola", "voice_id": "aai-alba", "encoding": "mp3", "bit_rate": 32000},
            )
    finally:
        await gateway.aclose()
    request = route.calls.last.request
    assert request.headers["authorization"] == CANARY_KEY
    body = {"text": "Hola", "voice_id": "aai-alba", "encoding": "mp3", "bit_rate": 32000, "stream": False}
    assert json.loads(request.content) == body
    assert audio_block(result).mime_type == "audio/mpeg"
    assert result.structured_content is not None
    assert (result.structured_content["bit_rate"], result.structured_content["audio_duration_ms"]) == (
        32000,
        120,
    )


async def test_tts_token_has_an_absolute_expiry_and_the_tts_socket(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get("https://token.assemblyai.com/v1/token").respond(
        200, json={"token": "tts-tok", "expires_in_seconds": 60}
    )
    gateway = build_gateway(make_settings(region="eu"))
    before = datetime.now(UTC).replace(microsecond=0)
    try:
        async with Client(build_server(gateway)) as client:
            result = await client.call_tool("create_tts_token", {"expires_in_seconds": 60})
    finally:
        await gateway.aclose()
    request = route.calls.last.request
    assert dict(request.url.params) == {"product": "tts", "expires_in_seconds": "60"}
    assert request.headers["authorization"] == CANARY_KEY
    data = result.structured_content
    assert data is not None
    assert data["websocket_url"] == "wss://tts.eu.assemblyai.com/v1/ws?token=tts-tok"
    assert data["max_session_duration_seconds"] == 3600
    expires_at = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
    assert 59 <= (expires_at - before).total_seconds() <= 62


async def test_tts_token_on_the_simulator(gateway: Gateway) -> None:
    async with Client(build_server(gateway)) as client:
        result = await client.call_tool(
            "create_tts_token", {"expires_in_seconds": 30, "max_session_duration_seconds": 120}
        )
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None and data["token"].count(".") == 2
    assert data["max_session_duration_seconds"] == 120 and data["websocket_url"].endswith(data["token"])


async def test_the_key_echoed_by_tts_never_reaches_the_caller(respx_mock: respx.MockRouter) -> None:
    envelope = {"code": "invalid_parameter", "message": f"bad key {CANARY_KEY}", "param": "text"}
    respx_mock.post("https://tts.us.assemblyai.com/v1/speech").mock(
        side_effect=[
            httpx.Response(400, json=envelope),
            httpx.Response(
                200, content=b"\x00\x00", headers={"content-type": "audio/pcm", "x-tts-voice-id": CANARY_KEY}
            ),
        ]
    )
    gateway = build_gateway(make_settings())
    try:
        async with Client(build_server(gateway)) as client:
            refused = await client.call_tool("text_to_speech", {"text": "Hi"})
            spoken = await client.call_tool("text_to_speech", {"text": "Hi"})
    finally:
        await gateway.aclose()
    assert refused.is_error and error_details(refused)["status"] == 400
    assert not spoken.is_error
    for result in (refused, spoken):
        assert CANARY_KEY not in result.model_dump_json()


async def test_a_clip_is_kept_for_the_principal_that_made_it(gateway: Gateway) -> None:
    maker, other = Principal(id="maker"), Principal(id="other")
    result = await gateway.runner.call(
        "text_to_speech", {"text": "x" * 200, "sample_rate": 48000}, principal=maker
    )
    assert result.structured_content is not None
    uri = result.structured_content["download"]["uri"]
    assert (await gateway.runner.clips.read(clip_owner(maker), uri)).contents
    with pytest.raises(MCPError):
        await gateway.runner.clips.read(clip_owner(other), uri)


async def test_tts_has_its_own_read_timeout_when_set(respx_mock: respx.MockRouter) -> None:
    own = Upstream(make_settings(tts_timeout_seconds=610.0, timeout_seconds=30.0))
    shared = Upstream(make_settings(timeout_seconds=30.0))
    try:
        assert host_timeout(own.settings, "tts").read == 610.0
        assert host_timeout(own.settings, "api").read == host_timeout(shared.settings, "tts").read == 30.0
        route = respx_mock.post("https://tts.us.assemblyai.com/v1/speech").respond(
            200, content=b"\x00\x00", headers={"content-type": "audio/pcm"}
        )
        await own.request("tts", "POST", "/v1/speech", params=None, json_body={"text": "hi"})
        assert route.calls.last.request.extensions["timeout"]["read"] == 610.0
    finally:
        await own.aclose()
        await shared.aclose()
