"""A composite tool is allowed only as far as every tool it uses is; method classes name effects.

Server filters go through the in-memory client; the same check with token scopes goes over real
HTTP (the SDK client against a uvicorn server on loopback).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, ErrorData

from aai_mcp.access import Scopes, mint
from aai_mcp.gateway import Gateway, build_gateway, load_default_catalog
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, error_details, make_settings, wav_bytes
from tests.support.servers import serve_gateway_in_thread
from tests.test_access_matrix import connect

pytestmark = pytest.mark.anyio

SECRET = "composite-signing-secret-0123456789abcdef"
CATALOG = load_default_catalog()
AUDIO_URL = "https://example.com/support-call.mp3"
CLIP = base64.b64encode(wav_bytes()).decode()
UPLOAD = "POST /v2/upload"
NO_UPLOADS: list[dict[str, Any]] = [
    {"toolsets": ["transcripts"]},
    {"tools": sorted(set(CATALOG.tools) - {"upload_file"})},
    {"methods": ["read", "transcription"]},
]


def simulated_gateway(**settings: Any) -> tuple[Gateway, Simulator]:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    settings = {"wait_poll_initial_seconds": 0.01, "wait_poll_max_seconds": 0.05, **settings}
    gateway = build_gateway(make_settings(**settings), transport=httpx.ASGITransport(app=app))
    return gateway, app.state.simulator


@asynccontextmanager
async def in_memory(**settings: Any) -> AsyncIterator[tuple[Client, Simulator]]:
    gateway, simulator = simulated_gateway(**settings)
    try:
        async with Client(build_server(gateway)) as client:
            yield client, simulator
    finally:
        await gateway.aclose()


def routes(simulator: Simulator) -> list[str]:
    return [request.route for request in simulator.requests]


def token(scopes: Scopes) -> str:
    return mint(SECRET.encode(), name="composite", scopes=scopes, expires_at=time.time() + 600).token


@pytest.fixture
def audio_file(tmp_path: Path) -> Path:
    path = tmp_path / "call.wav"
    path.write_bytes(wav_bytes())
    return path


async def assert_uploads_refused(client: Client, simulator: Simulator, audio_file: Path) -> None:
    listed = {tool.name for tool in (await client.list_tools()).tools}
    assert "transcribe" in listed and "upload_file" not in listed
    by_url = await client.call_tool("transcribe", {"audio_url": AUDIO_URL})
    assert not by_url.is_error, by_url.content
    for source, value in (("path", str(audio_file)), ("data_base64", CLIP)):
        result = await client.call_tool("transcribe", {source: value, "wait": False})
        assert result.is_error
        error = error_details(result)
        assert error.get("kind") == "forbidden", result
        assert f"transcribe with {source} needs" in error["message"] and "upload_file" in error["message"]
    assert UPLOAD not in routes(simulator)


@pytest.mark.parametrize("filters", NO_UPLOADS, ids=lambda filters: next(iter(filters)))
async def test_transcribe_does_not_upload_where_the_server_offers_no_upload_file(
    filters: dict[str, Any], audio_file: Path
) -> None:
    async with in_memory(upload_roots=[audio_file.parent], **filters) as (client, simulator):
        await assert_uploads_refused(client, simulator, audio_file)


async def test_transcribe_uploads_where_upload_file_is_allowed(audio_file: Path) -> None:
    async with in_memory(upload_roots=[audio_file.parent]) as (client, simulator):
        for source, value in (("path", str(audio_file)), ("data_base64", CLIP)):
            result = await client.call_tool("transcribe", {source: value, "wait": False})
            assert not result.is_error, result.content
    assert routes(simulator).count(UPLOAD) == 2


@pytest.fixture
def server(audio_file: Path) -> Iterator[tuple[str, Simulator]]:
    gateway, simulator = simulated_gateway(
        auth=["tokens"], token_secrets=SECRET, upload_roots=[audio_file.parent]
    )
    with serve_gateway_in_thread(gateway) as url:
        yield url, simulator


async def test_a_token_without_uploads_cannot_upload_through_transcribe(
    server: tuple[str, Simulator], audio_file: Path
) -> None:
    url, simulator = server
    scoped = token(Scopes(toolsets=frozenset({"transcripts"})))
    async with connect(f"{url}/mcp/t/{scoped}") as client:
        await assert_uploads_refused(client, simulator, audio_file)


async def test_read_and_ask_cannot_transcribe_or_upload() -> None:
    async with in_memory(methods=["read", "llm"]) as (client, simulator):
        listed = {tool.name for tool in (await client.list_tools()).tools}
        with pytest.raises(MCPError) as caught:
            await client.call_tool("transcribe", {"audio_url": AUDIO_URL})
    expected = {name for name, spec in CATALOG.tools.items() if set(spec.effects) <= {"read", "llm"}}
    assert listed == expected
    assert {"ask_transcript", "search", "fetch", "get_transcript"} <= listed
    assert not {"upload_file", "transcribe", "create_transcript", "create_streaming_token"} & listed
    assert caught.value.error == ErrorData(code=INVALID_PARAMS, message="Unknown tool: transcribe")
    assert simulator.requests == []


MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def raw_session(http: httpx.Client, url: str) -> dict[str, str]:
    """An initialized session's headers, by hand: the test then sees the exact bytes answered."""
    hello = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    response = http.post(url, json=hello, headers=MCP_HEADERS)
    assert response.status_code == 200, response.text
    headers = {**MCP_HEADERS, "Mcp-Session-Id": response.headers["mcp-session-id"]}
    headers["MCP-Protocol-Version"] = "2025-11-25"
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert http.post(url, json=initialized, headers=headers).status_code == 202
    return headers


def unknown_tool_bytes(http: httpx.Client, url: str, headers: dict[str, str], name: str) -> bytes:
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": {}}}
    response = http.post(url, json=call, headers=headers)
    assert response.status_code == 200, response.text
    return response.content.replace(name.encode(), b"NAME")


def test_hidden_tools_answer_exactly_like_unknown_ones() -> None:
    gateway, simulator = simulated_gateway(
        auth=["tokens"],
        token_secrets=SECRET,
        json_response=True,
        tools=sorted(set(CATALOG.tools) - {"delete_transcript"}),
    )
    scoped = token(Scopes(tools=frozenset(CATALOG.tools) - {"get_sentences"}))
    with serve_gateway_in_thread(gateway) as base, httpx.Client() as http:
        url = f"{base}/mcp/t/{scoped}"
        headers = raw_session(http, url)
        # Not a tool; hidden by the server's filter; hidden by the token's scopes.
        answers = {
            name: unknown_tool_bytes(http, url, headers, name)
            for name in ("no_such_tool", "delete_transcript", "get_sentences")
        }
    assert len(set(answers.values())) == 1, answers
    assert json.loads(answers["no_such_tool"]) == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": INVALID_PARAMS, "message": "Unknown tool: NAME"},
    }
    assert simulator.requests == []


async def test_the_sdk_client_sees_the_protocol_error() -> None:
    async with in_memory(tools=["get_transcript"]) as (client, _):
        with pytest.raises(MCPError) as caught:
            await client.call_tool("list_transcripts", {})
    assert caught.value.error == ErrorData(code=INVALID_PARAMS, message="Unknown tool: list_transcripts")


def test_a_long_unknown_name_is_not_echoed_whole() -> None:
    name = "x" * 100_000
    gateway, _ = simulated_gateway(json_response=True)
    with serve_gateway_in_thread(gateway) as base, httpx.Client() as http:
        url = f"{base}/mcp"
        headers = raw_session(http, url)
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name}}
        response = http.post(url, json=call, headers=headers)
    message = response.json()["error"]["message"]
    assert message == "Unknown tool: " + "x" * 64 + "…"
