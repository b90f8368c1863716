"""Every transport over real loopback sockets: Streamable HTTP (both protocol eras), SSE, stdio."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp.client import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters

from tests.support import make_settings
from tests.support.servers import clean_env, serve_in_process, serve_in_thread, stop

pytestmark = pytest.mark.anyio

AUDIO_URL = "https://example.com/support-call.mp3"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_in_thread(make_settings(api_key=None, simulator_delay_seconds=0.0)) as url:
        yield url


async def create_and_read(client: Client) -> dict[str, Any]:
    tools = await client.list_tools()
    assert {"create_transcript", "get_transcript", "upload_file"} <= {tool.name for tool in tools.tools}
    created = await client.call_tool("create_transcript", {"audio_url": AUDIO_URL, "speaker_labels": True})
    assert not created.is_error, created.content
    assert created.structured_content["status"] == "queued"
    assert created.meta and created.meta["aai-mcp/simulated"] is True
    assert created.content[0].text.startswith("[SIMULATED]")  # type: ignore[union-attr]
    result = await client.call_tool("get_transcript", {"transcript_id": created.structured_content["id"]})
    assert not result.is_error
    return dict(result.structured_content)


async def test_streamable_http_modern_era(base_url: str) -> None:
    async with Client(f"{base_url}/mcp") as client:
        assert client.protocol_version == "2026-07-28"
        transcript = await create_and_read(client)
    assert transcript["status"] == "completed" and transcript["text"]


async def test_streamable_http_handshake_era(base_url: str) -> None:
    async with Client(f"{base_url}/mcp", mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        transcript = await create_and_read(client)
    assert transcript["utterances"]


async def test_legacy_sse(base_url: str) -> None:
    async with Client(sse_client(f"{base_url}/sse"), mode="legacy") as client:
        transcript = await create_and_read(client)
    assert transcript["status"] == "completed"


async def test_stateless_json_response_mode() -> None:
    settings = make_settings(api_key=None, simulator_delay_seconds=0.0, stateless=True, json_response=True)
    with serve_in_thread(settings) as url:
        async with Client(f"{url}/mcp", mode="legacy") as client:
            transcript = await create_and_read(client)
    assert transcript["status"] == "completed"


async def test_stdio_subprocess() -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "aai_mcp", "stdio", "--simulator-delay-seconds", "0"],
        env=clean_env(),
    )
    async with Client(params) as client:
        transcript = await create_and_read(client)
    assert transcript["status"] == "completed"


def test_dns_rebinding_protection(base_url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    evil_host = httpx.post(f"{base_url}/mcp", json=body, headers={**headers, "Host": "evil.example"})
    assert evil_host.status_code == 421
    evil_origin = httpx.post(
        f"{base_url}/mcp", json=body, headers={**headers, "Origin": "https://evil.example"}
    )
    assert evil_origin.status_code == 403


def test_healthz(base_url: str) -> None:
    health = httpx.get(f"{base_url}/healthz").json()
    assert health["status"] == "ok" and health["simulated"] is True and health["tools"] >= 14


async def test_cli_serve_announces_the_simulator() -> None:
    with serve_in_process() as server:
        async with Client(f"{server.base_url}/mcp") as client:
            tools = await client.list_tools()
        assert len(tools.tools) >= 14
        stop(server.process)
        stderr = server.stderr()
    assert "SIMULATOR" in stderr and "ASSEMBLYAI_API_KEY" in stderr
