"""Where requests go (region, overrides) and how each host is authenticated."""

from __future__ import annotations

import logging

import pytest
import respx
from mcp.client import Client

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from tests.support import CANARY_KEY, make_settings

pytestmark = pytest.mark.anyio

TOKEN = {"token": "tok-123", "expires_in_seconds": 60}
CHAT = {
    "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
}


async def run_calls(region: str, respx_mock: respx.MockRouter, **overrides: str) -> None:
    gateway = build_gateway(make_settings(region=region, **overrides))
    try:
        async with Client(build_server(gateway)) as client:
            results = [
                await client.call_tool("list_transcripts", {"limit": 1}),
                await client.call_tool("llm_chat_completion", {"model": "claude-sonnet-4-6", "prompt": "hi"}),
                await client.call_tool("create_streaming_token", {"expires_in_seconds": 60}),
                await client.call_tool("create_voice_agent_token", {"expires_in_seconds": 30}),
            ]
    finally:
        await gateway.aclose()
    assert not any(result.is_error for result in results), [r.content for r in results]


def mock_hosts(
    respx_mock: respx.MockRouter, api: str, llm: str, streaming: str, agents: str
) -> dict[str, respx.Route]:
    return {
        "api": respx_mock.get(f"{api}/v2/transcript").respond(
            200, json={"transcripts": [], "page_details": {}}
        ),
        "llm": respx_mock.post(f"{llm}/v1/chat/completions").respond(200, json=CHAT),
        # llm_chat_completion checks its model against the region host's list first.
        "llm_models": respx_mock.get(f"{llm}/v1/models").respond(
            200, json={"data": [{"id": "claude-sonnet-4-6"}]}
        ),
        "streaming": respx_mock.get(f"{streaming}/v3/token").respond(200, json=TOKEN),
        "agents": respx_mock.get(f"{agents}/v1/token").respond(200, json=TOKEN),
    }


@pytest.mark.parametrize(
    ("region", "api", "llm", "streaming"),
    [
        (
            "us",
            "https://api.assemblyai.com",
            "https://llm-gateway.assemblyai.com",
            "https://streaming.assemblyai.com",
        ),
        (
            "eu",
            "https://api.eu.assemblyai.com",
            "https://llm-gateway.eu.assemblyai.com",
            "https://streaming.eu.assemblyai.com",
        ),
    ],
)
async def test_region_moves_every_host_and_auth_forms(
    respx_mock: respx.MockRouter, region: str, api: str, llm: str, streaming: str
) -> None:
    routes = mock_hosts(respx_mock, api, llm, streaming, "https://agents.assemblyai.com")
    await run_calls(region, respx_mock)
    for name, route in routes.items():
        assert route.call_count == 1, name
        expected = f"Bearer {CANARY_KEY}" if name == "agents" else CANARY_KEY
        assert route.calls.last.request.headers["authorization"] == expected, name


async def test_each_base_url_can_be_overridden(respx_mock: respx.MockRouter) -> None:
    routes = mock_hosts(respx_mock, "http://a.test", "http://l.test", "http://s.test", "http://g.test")
    await run_calls(
        "us",
        respx_mock,
        api_base_url="http://a.test/",
        llm_gateway_base_url="http://l.test",
        streaming_base_url="http://s.test",
        agents_base_url="http://g.test",
    )
    assert all(route.call_count == 1 for route in routes.values())


async def test_tokens_carry_absolute_expiry_and_websocket_url(respx_mock: respx.MockRouter) -> None:
    from datetime import UTC, datetime

    respx_mock.get("https://streaming.eu.assemblyai.com/v3/token").respond(200, json=TOKEN)
    gateway = build_gateway(make_settings(region="eu"))
    before = datetime.now(UTC).replace(microsecond=0)
    async with Client(build_server(gateway)) as client:
        result = await client.call_tool(
            "create_streaming_token", {"expires_in_seconds": 60, "max_session_duration_seconds": 600}
        )
    await gateway.aclose()
    data = result.structured_content
    expires_at = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
    assert 59 <= (expires_at - before).total_seconds() <= 62
    assert data["websocket_url"] == "wss://streaming.eu.assemblyai.com/v3/ws?token=tok-123"
    assert data["max_session_duration_seconds"] == 600


async def test_the_key_never_reaches_results_or_logs(
    respx_mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    from aai_mcp.logs import RedactingFilter

    caplog.handler.addFilter(RedactingFilter([CANARY_KEY]))
    caplog.set_level(logging.DEBUG)
    # Upstream echoing the key back in an error must not leak it either.
    respx_mock.get("https://api.assemblyai.com/v2/transcript").respond(
        401, json={"error": f"Invalid API key {CANARY_KEY}"}
    )
    gateway = build_gateway(make_settings())
    async with Client(build_server(gateway)) as client:
        result = await client.call_tool("list_transcripts", {})
    await gateway.aclose()
    assert result.is_error
    assert CANARY_KEY not in result.model_dump_json(by_alias=True)
    assert "[REDACTED]" in result.content[0].text  # type: ignore[union-attr]
    assert CANARY_KEY not in caplog.text
