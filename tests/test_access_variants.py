"""New variants of the access review: every way to read a transcript needs a read permission, and
refusals stay bounded and indistinguishable (issue 9 findings 3-4, issue 10 part 2, repeated)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, TextContent

from aai_mcp.access import Scopes
from aai_mcp.gateway import Gateway
from aai_mcp.resources import PREFIX
from aai_mcp.server import build_server
from aai_mcp.simulator import Simulator
from tests.servers import serve_gateway_in_thread
from tests.test_access_composite import SECRET, in_memory, routes, simulated_gateway, token
from tests.test_access_matrix import connect

pytestmark = pytest.mark.anyio

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
