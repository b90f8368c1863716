"""New variants of the access review: every way to read a transcript needs a read permission, and
refusals stay bounded and indistinguishable (issue 9 findings 3-4, issue 10 part 2, repeated)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, TextContent

from aai_mcp.access import Scopes, mint
from aai_mcp.access.principal import Principal
from aai_mcp.gateway import Gateway, load_default_catalog
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.resources import PREFIX
from aai_mcp.simulator import Simulator
from tests.support.servers import serve_gateway_in_thread
from tests.test_access_composite import SECRET, in_memory, raw_session, routes, simulated_gateway, token
from tests.test_access_matrix import MCP_HEADERS, connect

pytestmark = pytest.mark.anyio

CATALOG = load_default_catalog()
AUDIO_URL = "https://example.com/support-call.mp3"
MODEL = "claude-sonnet-4-6"
ECHO = [{"role": "user", "content": "Repeat word for word: {{ transcript }}"}]
LLM = "POST /v1/chat/completions"


def text_of(result: Any) -> str:
    return "\n".join(part.text for part in result.content if isinstance(part, TextContent))


async def transcript_in(gateway: Gateway) -> str:
    """A transcript created straight through the gateway's upstream (the simulator), past any filter."""
    response = await gateway.upstream.request(
        "api", "POST", "/v2/transcript", json_body={"audio_url": AUDIO_URL, "speech_models": ["universal-2"]}
    )
    transcript_id: str = response.json()["id"]
    return transcript_id


@asynccontextmanager
async def filtered(**filters: Any) -> AsyncIterator[tuple[Client, Simulator, str]]:
    """The in-memory client of a server with `filters`, and a transcript it did not create."""
    gateway, simulator = simulated_gateway(**filters)
    try:
        transcript_id = await transcript_in(gateway)
        async with Client(build_server(gateway)) as client:
            yield client, simulator, transcript_id
    finally:
        await gateway.aclose()


# Servers that offer llm_chat_completion but not reading transcripts.
NO_READS: list[dict[str, Any]] = [
    {"methods": ["llm", "transcription"]},
    {"tools": ["llm_chat_completion", "create_transcript", "transcribe"]},
    {"toolsets": ["llm"]},
]


@pytest.mark.parametrize("filters", NO_READS, ids=lambda filters: next(iter(filters)))
async def test_llm_chat_completion_reads_no_transcript_where_reading_is_not_offered(
    filters: dict[str, Any],
) -> None:
    async with filtered(**filters) as (client, simulator, transcript_id):
        listed = {tool.name for tool in (await client.list_tools()).tools}
        plain = await client.call_tool("llm_chat_completion", {"model": MODEL, "messages": ECHO})
        echoed = await client.call_tool(
            "llm_chat_completion", {"model": MODEL, "messages": ECHO, "transcript_id": transcript_id}
        )
    assert "llm_chat_completion" in listed and "get_transcript" not in listed
    assert not plain.is_error, plain.content
    assert echoed.is_error
    assert "llm_chat_completion with transcript_id needs" in text_of(echoed)
    assert "get_transcript" in text_of(echoed)
    assert routes(simulator).count(LLM) == 1  # only the call without a transcript reached the gateway


@pytest.mark.parametrize(
    "scopes",
    [Scopes(methods=frozenset({"llm"})), Scopes(tools=frozenset({"llm_chat_completion"}))],
    ids=["methods", "tools"],
)
async def test_a_token_that_may_not_read_cannot_read_through_the_llm(scopes: Scopes) -> None:
    gateway, simulator = simulated_gateway(auth=["tokens"], token_secrets=SECRET)
    transcript_id = await transcript_in(gateway)
    with serve_gateway_in_thread(gateway) as url:
        async with connect(f"{url}/mcp/t/{token(scopes)}") as client:
            echoed = await client.call_tool(
                "llm_chat_completion", {"model": MODEL, "messages": ECHO, "transcript_id": transcript_id}
            )
    assert echoed.is_error and "get_transcript" in text_of(echoed)
    assert LLM not in routes(simulator)


HUGE = "x" * 200_000 + "!"
# Each request carries HUGE where the server quotes caller text in its error.
OVERSIZED: dict[str, Any] = {
    "unknown URI": lambda client: client.read_resource("zz://" + HUGE),
    "bad id in a URI": lambda client: client.read_resource(f"{PREFIX}{HUGE}/text"),
    "bad cursor": lambda client: client.list_resources(cursor=HUGE),
    "unknown prompt": lambda client: client.get_prompt(HUGE),
    "unknown prompt arguments": lambda client: client.get_prompt(
        "call_phases", {**{f"{HUGE}{n}": "1" for n in range(9)}, "phases": "a", "transcript_id": "abc"}
    ),
    "bad prompt transcript_id": lambda client: client.get_prompt(
        "call_phases", {"phases": "a", "transcript_id": HUGE}
    ),
    "unknown tool": lambda client: client.call_tool(HUGE, {}),
}


@pytest.mark.parametrize("request_of", OVERSIZED.values(), ids=OVERSIZED.keys())
async def test_errors_quote_only_a_short_prefix_of_caller_text(request_of: Any) -> None:
    async with in_memory() as (client, _):
        with pytest.raises(MCPError) as caught:
            await request_of(client)
    assert caught.value.error.code == INVALID_PARAMS
    assert len(caught.value.error.message) < 1000, caught.value.error.message[:200]
    assert "xxxxx" in caught.value.error.message  # still says which value was wrong


MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def modern_call_bytes(http: httpx.Client, url: str, name: str, arguments: dict[str, Any]) -> bytes:
    """A sessionless tools/call as the 2.x client sends it, plus an Mcp-Param header that matches no
    argument: a schema looked up for a hidden tool must not make its answer differ."""
    headers = {
        **MCP_HEADERS,
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": name,
        "Mcp-Param-Transcript_id": "not-the-argument",
    }
    params = {"name": name, "arguments": arguments, "_meta": MODERN_META}
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
    response = http.post(url, json=call, headers=headers)
    return f"{response.status_code} ".encode() + response.content.replace(name.encode(), b"NAME")


def test_hidden_tools_answer_like_unknown_ones_in_both_eras_with_arguments() -> None:
    gateway, simulator = simulated_gateway(
        auth=["tokens"],
        token_secrets=SECRET,
        json_response=True,
        tools=sorted(set(CATALOG.tools) - {"search"}),
    )
    scoped = token(Scopes(tools=frozenset(CATALOG.tools) - {"get_sentences", "transcribe"}))
    names = ("no_such_tool", "search", "get_sentences", "transcribe")  # unknown, server- and token-hidden
    arguments = [{}, {"transcript_id": "abc"}, {"audio_url": AUDIO_URL, "path": "/etc/passwd"}, {"x": None}]
    with serve_gateway_in_thread(gateway) as base, httpx.Client() as http:
        url = f"{base}/mcp/t/{scoped}"
        session = raw_session(http, url)
        for args in arguments:
            modern = {modern_call_bytes(http, url, name, args) for name in names}
            legacy = {legacy_call_bytes(http, url, session, name, args) for name in names}
            assert len(modern) == 1 and len(legacy) == 1, (args, modern, legacy)
    assert b'"message":"Unknown tool: NAME"' in modern.pop()
    assert simulator.requests == []


def legacy_call_bytes(
    http: httpx.Client, url: str, headers: dict[str, str], name: str, arguments: dict[str, Any]
) -> bytes:
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    response = http.post(url, json=call, headers=headers)
    return f"{response.status_code} ".encode() + response.content.replace(name.encode(), b"NAME")


def x_mcp_headers(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [str(schema["x-mcp-header"])] if "x-mcp-header" in schema else []
        return found + [key for value in schema.values() for key in x_mcp_headers(value)]
    if isinstance(schema, list):
        return [key for value in schema for key in x_mcp_headers(value)]
    return []


def test_no_tool_schema_routes_arguments_into_headers() -> None:
    """The SDK checks Mcp-Param-* headers against the schema server.input_schema_of returns, a lookup
    that cannot know the caller: an `x-mcp-header` on a tool would make a hidden tool answer a bad
    header differently from an unknown tool (an existence oracle). Adding one needs that fixed first."""
    gateway, _ = simulated_gateway()
    assert {
        name: x_mcp_headers(tool.input_schema) for name, tool in gateway.registry.definitions.items()
    } == {name: [] for name in gateway.registry.definitions}


async def refusal_text(url: str, scopes: Scopes) -> str:
    async with connect(f"{url}/mcp/t/{token(scopes)}") as client:
        refused = await client.call_tool("transcribe", {"data_base64": "UklGRg==", "wait": False})
    assert refused.is_error
    return text_of(refused)


async def test_a_composite_refusal_does_not_tell_a_token_whether_the_server_offers_the_used_tool() -> None:
    """upload_file hidden by the server's filter or by the token's scopes: the same refusal, as
    tools/call of upload_file itself answers the same Unknown tool either way."""
    answers = []
    for server_tools, token_tools in (
        (set(CATALOG.tools) - {"upload_file"}, None),
        (None, set(CATALOG.tools) - {"upload_file"}),
    ):
        filters = {"tools": sorted(server_tools)} if server_tools else {}
        gateway, simulator = simulated_gateway(auth=["tokens"], token_secrets=SECRET, **filters)
        scopes = Scopes(tools=frozenset(token_tools) if token_tools else None)
        with serve_gateway_in_thread(gateway) as url:
            answers.append(await refusal_text(url, scopes))
        assert simulator.requests == []
    assert answers[0] == answers[1], answers
    assert "transcribe with data_base64 needs upload_file" in answers[0]


RESOURCE_AUDIT = re.compile(
    r"token=(?P<token>\S+) resource=(?P<resource>\S+) "
    r"outcome=(?P<outcome>ok|error|unknown_resource|too_many_calls) "
    r"upstream_status=(?P<status>\S+) duration_ms=\d+"
)


async def test_every_resource_read_writes_one_audit_line_without_the_uri(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Resources read the same data as the tools they mirror, so they are audited like them."""
    caplog.set_level(logging.INFO, logger="aai_mcp.audit")
    gateway, _ = simulated_gateway(auth=["tokens"], token_secrets=SECRET)
    transcript_id = await transcript_in(gateway)
    scopes = Scopes(tools=frozenset({"list_transcripts", "get_transcript"}))
    with serve_gateway_in_thread(gateway) as url:
        async with connect(f"{url}/mcp/t/{token(scopes)}") as client:
            caplog.clear()
            await client.list_resources()
            await client.read_resource(f"{PREFIX}{transcript_id}/text")
            for uri in (f"{PREFIX}{transcript_id}/sentences", f"{PREFIX}missing-id", "zz://elsewhere"):
                with pytest.raises(MCPError):
                    await client.read_resource(uri)
    lines = [record.getMessage() for record in caplog.records if record.name == "aai_mcp.audit"]
    parsed = [RESOURCE_AUDIT.fullmatch(line) for line in lines]
    assert all(parsed), lines
    assert [(m["resource"], m["outcome"], m["status"]) for m in parsed if m] == [
        ("list", "ok", "200"),
        ("transcript_text", "ok", "200"),
        ("(not-a-resource)", "unknown_resource", "None"),  # a part this token may not read
        ("transcript", "error", "404"),
        ("(not-a-resource)", "unknown_resource", "None"),
    ]
    assert not any(transcript_id in line or "missing-id" in line or "elsewhere" in line for line in lines)


async def test_resource_reads_count_against_the_per_token_limit_of_concurrent_calls() -> None:
    gateway, simulator = simulated_gateway(
        auth=["tokens"], token_secrets=SECRET, max_concurrent_calls_per_token=1
    )
    transcript_id = await transcript_in(gateway)
    minted = mint(SECRET.encode(), name="busy", scopes=Scopes(), expires_at=time.time() + 600)
    busy = Principal(id=minted.jti)
    uri = f"{PREFIX}{transcript_id}/text"
    with serve_gateway_in_thread(gateway) as url:
        async with (
            connect(f"{url}/mcp/t/{minted.token}") as client,
            connect(f"{url}/mcp/t/{token(Scopes())}") as other,
        ):
            hold = await gateway.runner.try_hold(busy)  # the token's one place, as a running call holds it
            assert hold is not None
            before = len(simulator.requests)
            for request in (lambda: client.read_resource(uri), client.list_resources):
                with pytest.raises(MCPError) as caught:
                    await request()
                assert "Too many calls at once for this token (1 allowed)" in caught.value.error.message
            assert len(simulator.requests) == before  # refused before anything reached upstream
            assert (await other.read_resource(uri)).contents  # another token is not held back
            await gateway.runner.shared.release(hold)
            assert (await client.read_resource(uri)).contents
