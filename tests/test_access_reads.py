"""Resources and prompts go through the same check as the tools they mirror or call.

Each resource kind needs the tool it mirrors (listing: list_transcripts; the transcript and its
text: get_transcript; sentences, paragraphs, subtitles: their tools). A prompt is offered only when
the caller may call every tool its steps name. Over real HTTP with token scopes, and in memory with
the server's own filters.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from aai_mcp.access import Scopes, mint
from aai_mcp.catalog.prompt_specs import STEP_FIELDS
from aai_mcp.gateway import load_default_catalog
from aai_mcp.mcp_server.prompts import STEP_TOOLS
from aai_mcp.mcp_server.resources import PARTS, PREFIX
from tests.support.servers import serve_gateway_in_thread
from tests.test_access_composite import SECRET, in_memory, simulated_gateway
from tests.test_access_matrix import connect

pytestmark = pytest.mark.anyio

CATALOG = load_default_catalog()
AUDIO_URL = "https://example.com/support-call.mp3"
TID = "5551722-f677-48a2-b7c3-0e2f9c5f2f0a"
PHASES = {"phases": "greeting, problem"}


@pytest.fixture
def server() -> Iterator[str]:
    gateway, _ = simulated_gateway(auth=["tokens"], token_secrets=SECRET)
    with serve_gateway_in_thread(gateway) as url:
        yield url


@asynccontextmanager
async def as_token(url: str, tools: set[str] | None) -> AsyncIterator[Client]:
    scopes = Scopes(tools=None if tools is None else frozenset(tools))
    minted = mint(SECRET.encode(), name="reads", scopes=scopes, expires_at=time.time() + 600)
    async with connect(f"{url}/mcp/t/{minted.token}") as client:
        yield client


async def completed_transcript(url: str) -> str:
    async with as_token(url, None) as client:
        created = await client.call_tool("transcribe", {"audio_url": AUDIO_URL})
    assert not created.is_error and created.structured_content["status"] == "completed", created.content
    transcript_id: str = created.structured_content["id"]
    return transcript_id


def templates_of(listed: Any) -> set[str]:
    return {template.uri_template for template in listed.resource_templates}


async def unknown_uri(client: Client, uri: str) -> str:
    with pytest.raises(MCPError) as caught:
        await client.read_resource(uri)
    assert caught.value.error.code == INVALID_PARAMS
    return caught.value.error.message


async def test_a_get_transcript_token_reads_only_what_get_transcript_shows(server: str) -> None:
    url = server
    transcript_id = await completed_transcript(url)
    async with as_token(url, {"get_transcript"}) as client:
        listed = await client.list_resources()
        templates = templates_of(await client.list_resource_templates())
        whole = await client.read_resource(f"{PREFIX}{transcript_id}")
        text = await client.read_resource(f"{PREFIX}{transcript_id}/text")
        refused = {
            suffix: await unknown_uri(client, f"{PREFIX}{transcript_id}{suffix}")
            for suffix in ("/sentences", "/paragraphs", "/subtitles.vtt", "/subtitles.srt")
        }
    assert listed.resources == []  # listing mirrors list_transcripts, which this token lacks
    assert templates == {f"{PREFIX}{{id}}", f"{PREFIX}{{id}}/text"}
    assert whole.contents and text.contents
    for suffix, message in refused.items():
        # Refused exactly like a URI naming no part at all, listing only what it may read.
        assert message.startswith(f"Unknown resource URI '{PREFIX}{transcript_id}{suffix}'."), message
        assert "sentences" not in message.split("Readable URIs:")[1]


@pytest.mark.parametrize("suffix", ["/sentences", "/paragraphs", "/subtitles.vtt", "/subtitles.srt"])
async def test_each_part_needs_the_tool_it_mirrors(server: str, suffix: str) -> None:
    url = server
    transcript_id = await completed_transcript(url)
    tool = PARTS[suffix].tool
    async with as_token(url, {tool, "list_transcripts"}) as client:
        listed = await client.list_resources()
        part = await client.read_resource(f"{PREFIX}{transcript_id}{suffix}")
        message = await unknown_uri(client, f"{PREFIX}{transcript_id}")
    assert f"{PREFIX}{transcript_id}" in {str(resource.uri) for resource in listed.resources}
    assert part.contents
    assert "Unknown resource URI" in message


async def test_a_server_filter_limits_resources_in_memory() -> None:
    async with in_memory(tools=["get_sentences"]) as (client, simulator):
        templates = templates_of(await client.list_resource_templates())
        listed = await client.list_resources()
    assert templates == {f"{PREFIX}{{id}}/sentences"}
    assert listed.resources == [] and simulator.requests == []


async def test_prompts_need_the_tools_their_steps_call(server: str) -> None:
    url = server
    async with as_token(url, {"get_transcript", "list_transcripts"}) as client:
        listed = (await client.list_prompts()).prompts
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("call_phases", {"transcript_id": TID, **PHASES})
    assert listed == []
    assert caught.value.error.message == "Unknown prompt 'call_phases'. Prompts: none for this caller."


async def test_a_prompt_offers_the_audio_sources_the_caller_may_use(server: str) -> None:
    url = server
    async with as_token(url, {"wait_for_transcript", "ask_transcript"}) as client:
        listed = {prompt.name for prompt in (await client.list_prompts()).prompts}
        by_id = await client.get_prompt("call_phases", {"transcript_id": TID, **PHASES})
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("call_phases", {"audio_url": AUDIO_URL, **PHASES})
    assert listed == {"call_phases", "podcast_show_notes", "support_escalation_audit"}
    assert by_id.messages
    message = caught.value.error.message
    assert "call_phases with audio_url calls" in message and "transcribe" in message
    assert message.endswith("give transcript_id instead.")


async def test_a_read_only_server_offers_no_prompts_in_memory() -> None:
    async with in_memory(read_only=True) as (client, _):
        assert (await client.list_prompts()).prompts == []


def test_every_step_placeholder_names_a_catalog_tool() -> None:
    assert set(STEP_TOOLS) == set().union(*STEP_FIELDS.values())
    assert set(STEP_TOOLS.values()) <= set(CATALOG.tools)


async def test_no_other_read_path_is_offered() -> None:
    # Resource subscriptions would be another way to read; none is offered, and one added later must go
    # through Registry.visible like the handlers above. Completions do (transcript ids only with
    # list_transcripts' permission: tests/test_completions.py).
    async with in_memory() as (client, _):
        capabilities = client.server_capabilities
    assert capabilities is not None and capabilities.completions is not None
    assert capabilities.resources is not None and not capabilities.resources.subscribe
