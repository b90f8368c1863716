"""create_streaming_token takes the v3 session's parameters (`connection`): checked by AssemblyAI's
rules before any token is minted, never sent to the token endpoint, and returned in a ready
websocket_url next to the token."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import respx
from mcp.client import Client

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from tests.support import CANARY_KEY, make_settings

pytestmark = pytest.mark.anyio

TOKEN_URL = "https://streaming.assemblyai.com/v3/token"
CONNECTION: dict[str, Any] = {
    "sample_rate": 16000,
    "speech_model": "u3-rt-pro",
    "encoding": "pcm_s16le",
    "format_turns": True,
    "keyterms_prompt": ["Acme", "Northwind"],
    "voice_focus": "near-field",
    "mode": "balanced",
    "domain": "medical-v1",
    "language_codes": ["en", "es"],
    "redact_pii": True,
    "redact_pii_policies": ["person_name", "gender"],
    "redact_pii_sub": "entity_name",
    "llm_gateway": {"model": "claude-haiku-4-5-20251001", "messages": [], "max_tokens": 50},
}


async def mint(respx_mock: respx.MockRouter, arguments: dict[str, Any]) -> Any:
    route = respx_mock.get(TOKEN_URL).respond(200, json={"token": "tok/1+2", "expires_in_seconds": 60})
    gateway = build_gateway(make_settings())
    try:
        async with Client(build_server(gateway)) as client:
            result = await client.call_tool("create_streaming_token", {"expires_in_seconds": 60, **arguments})
    finally:
        await gateway.aclose()
    return result, route


async def test_the_connection_parameters_come_back_in_the_websocket_url(respx_mock: respx.MockRouter) -> None:
    result, route = await mint(respx_mock, {"connection": CONNECTION})
    assert not result.is_error
    url = urlsplit(result.structured_content["websocket_url"])
    assert (url.scheme, url.netloc, url.path) == ("wss", "streaming.assemblyai.com", "/v3/ws")
    query = parse_qsl(url.query)
    assert query[-1] == ("token", "tok/1+2")  # last, and decoded back exactly
    assert dict(query[:-1]) == {
        "sample_rate": "16000",
        "speech_model": "u3-rt-pro",
        "encoding": "pcm_s16le",
        "format_turns": "true",
        "keyterms_prompt": '["Acme","Northwind"]',  # JSON-encoded, as the SDK sends lists
        "voice_focus": "near-field",
        "mode": "balanced",
        "domain": "medical-v1",
        "language_codes": '["en","es"]',
        "redact_pii": "true",
        "redact_pii_policies": '["person_name","gender"]',
        "redact_pii_sub": "entity_name",
        "llm_gateway": '{"model":"claude-haiku-4-5-20251001","messages":[],"max_tokens":50}',
    }
    # The token endpoint gets its own parameters only, with the key.
    (call,) = route.calls
    assert str(call.request.url) == TOKEN_URL + "?expires_in_seconds=60"
    assert call.request.headers["authorization"] == CANARY_KEY
    assert CANARY_KEY not in str(result.content) and CANARY_KEY not in str(result.structured_content)


async def test_without_connection_the_url_carries_the_token_only(respx_mock: respx.MockRouter) -> None:
    result, _ = await mint(respx_mock, {})
    assert (
        result.structured_content["websocket_url"] == "wss://streaming.assemblyai.com/v3/ws?token=tok%2F1%2B2"
    )


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ({"mode": "fastest"}, "mode must be one of: balanced, max_accuracy, min_latency"),
        ({"encoding": "flac"}, "encoding must be one of: aac, ogg_opus, opus, pcm_mulaw, pcm_s16le"),
        ({"sample_rate": 0}, "sample_rate must be a positive integer"),
        ({"sample_rate": 16000.5}, "sample_rate must be an integer"),
        ({"sample_rate": " 16_000 "}, "sample_rate must be an integer"),  # int() would take it
        ({"voice_focus_threshold": "nan"}, "voice_focus_threshold must be a number"),  # float() would
        ({"voice_focus_threshold": 2}, "voice_focus_threshold must be between 0 and 1"),
        ({"language_codes": "en"}, "language_codes must be a JSON array of strings"),
        ({"format_turns": "yes"}, "format_turns must be a boolean"),
        ({"inactivity_timeout": 4}, "inactivity_timeout must be between 5 and 3600"),
        ({"sample_rat": 16000}, "sample_rat is not a v3 streaming parameter"),
        ({"token": "x"}, "token is added by the gateway"),
        ({"noise_suppression_model": "near-field"}, "noise_suppression_model is deprecated: use voice_focus"),
        ({"llm_gateway": ["m"]}, "llm_gateway must be a JSON object"),
    ],
)
async def test_a_bad_parameter_is_refused_before_a_token_is_minted(
    respx_mock: respx.MockRouter, connection: dict[str, Any], message: str
) -> None:
    result, route = await mint(respx_mock, {"connection": connection})
    assert result.is_error
    assert f"Invalid connection parameter: {message}" in result.content[0].text
    assert route.call_count == 0
