"""Transcripts as MCP resources, through the in-memory client: simulator, or respx for upstream errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import respx
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import TextResourceContents

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.reference_notes import NOTES_URI
from aai_mcp.mcp_server.resources import LIST_PAGE_SIZE
from tests.support import CANARY_KEY, make_settings

pytestmark = pytest.mark.anyio

API = "https://api.assemblyai.com"
PREFIX = "assemblyai://transcripts/"
MIME = {
    "": "application/json",
    "/text": "text/plain",
    "/sentences": "application/json",
    "/paragraphs": "application/json",
    "/subtitles.vtt": "text/vtt",
    "/subtitles.srt": "application/x-subrip",
}


async def simulated(delay: float) -> AsyncIterator[Client]:
    gateway = build_gateway(make_settings(api_key=None, simulator_delay_seconds=delay))
    try:
        async with Client(build_server(gateway)) as client:
            yield client
    finally:
        await gateway.aclose()


@pytest.fixture
async def sim() -> AsyncIterator[Client]:
    async for client in simulated(0.0):
        yield client


@pytest.fixture
async def slow_sim() -> AsyncIterator[Client]:
    async for client in simulated(60.0):
        yield client


async def create(client: Client, audio_url: str = "https://example.com/call.mp3") -> str:
    created = await client.call_tool("create_transcript", {"audio_url": audio_url, "speaker_labels": True})
    assert not created.is_error, created.content
    transcript_id: str = created.structured_content["id"]
    return transcript_id


async def read(client: Client, uri: str) -> tuple[str, str | None]:
    result = await client.read_resource(uri)
    (content,) = result.contents
    assert content.uri == uri and isinstance(content, TextResourceContents)
    return content.text, content.mime_type


def has_words(value: Any) -> bool:
    if isinstance(value, dict):
        return "words" in value or any(has_words(item) for item in value.values())
    if isinstance(value, list):
        return any(has_words(item) for item in value)
    return False


async def test_templates_are_listed_with_their_mime_types(sim: Client) -> None:
    listed = await sim.list_resource_templates()
    templates = {t.uri_template: t.mime_type for t in listed.resource_templates}
    # Plus both subtitle formats as one template, for clients that complete {format} (srt, vtt).
    subtitles = {f"{PREFIX}{{id}}/subtitles.{{format}}": None}
    assert templates == {f"{PREFIX}{{id}}{suffix}": mime for suffix, mime in MIME.items()} | subtitles
    assert all(t.description and "completed" in t.description for t in listed.resource_templates)


async def test_capabilities_declare_resources_and_prompts(sim: Client) -> None:
    capabilities = sim.server_capabilities
    assert capabilities is not None
    assert capabilities.resources is not None and capabilities.prompts is not None
    assert capabilities.tools is not None


async def test_list_is_newest_first_and_pages_with_a_cursor(sim: Client) -> None:
    created = [await create(sim) for _ in range(LIST_PAGE_SIZE + 5)]
    newest_first = created[::-1]
    first = await sim.list_resources()
    assert first.resources[0].uri == NOTES_URI  # the notes lead the first page (test_reference_resources)
    transcripts = first.resources[1:]
    first_ids = [r.uri.removeprefix(PREFIX) for r in transcripts]
    assert first_ids == newest_first[:LIST_PAGE_SIZE]
    assert first.next_cursor == first_ids[-1]
    assert transcripts[0].name.startswith(f"Transcript {newest_first[0]} (completed, ")
    assert all(r.mime_type == "application/json" for r in transcripts)

    second = await sim.list_resources(cursor=first.next_cursor)
    second_ids = [r.uri.removeprefix(PREFIX) for r in second.resources]
    assert second_ids == newest_first[LIST_PAGE_SIZE:]
    assert not set(first_ids) & set(second_ids)
    assert second.next_cursor is None


async def test_a_bad_cursor_is_refused(sim: Client) -> None:
    with pytest.raises(MCPError, match="cursor"):
        await sim.list_resources(cursor="not a cursor!")


async def test_every_template_reads_a_completed_transcript(sim: Client) -> None:
    transcript_id = await create(sim)
    texts: dict[str, str] = {}
    for suffix, mime in MIME.items():
        texts[suffix], got_mime = await read(sim, f"{PREFIX}{transcript_id}{suffix}")
        assert got_mime == mime
    full = json.loads(texts[""])
    assert full["id"] == transcript_id and full["status"] == "completed"
    assert full["text"] == texts["/text"] and len(texts["/text"]) > 100
    assert {u["speaker"] for u in full["utterances"]} >= {"A", "B"}
    for kind in ("sentences", "paragraphs"):
        segments = json.loads(texts[f"/{kind}"])
        assert segments["kind"] == kind and segments["total"] == len(segments["items"]) > 0
    assert not any(has_words(json.loads(texts[s])) for s in ("", "/sentences", "/paragraphs"))
    assert texts["/subtitles.vtt"].startswith("WEBVTT")
    assert "-->" in texts["/subtitles.srt"] and not texts["/subtitles.srt"].startswith("WEBVTT")


@pytest.mark.parametrize("suffix", ["", "/text", "/sentences", "/subtitles.vtt"])
async def test_a_queued_transcript_says_its_status_and_to_wait(slow_sim: Client, suffix: str) -> None:
    transcript_id = await create(slow_sim)
    with pytest.raises(MCPError) as caught:
        await slow_sim.read_resource(f"{PREFIX}{transcript_id}{suffix}")
    assert "queued" in caught.value.message
    assert f"wait_for_transcript with transcript_id={transcript_id}" in caught.value.message


async def test_a_failed_transcript_gives_the_reason(sim: Client) -> None:
    transcript_id = await create(sim, "https://nowhere.invalid/call.mp3")
    for suffix in ("", "/paragraphs"):
        with pytest.raises(MCPError) as caught:
            await sim.read_resource(f"{PREFIX}{transcript_id}{suffix}")
        assert "status error" in caught.value.message
        assert "Download error" in caught.value.message


async def test_unknown_transcript_is_a_clear_404(sim: Client) -> None:
    for suffix in ("", "/subtitles.srt"):
        with pytest.raises(MCPError, match="no such transcript.*HTTP 404"):
            await sim.read_resource(f"{PREFIX}does-not-exist{suffix}")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (f"{PREFIX}bad%20id", "Bad transcript id"),
        (f"{PREFIX}{'x' * 129}", "Bad transcript id"),
        (f"{PREFIX}", "Bad transcript id"),
        (f"{PREFIX}abc/words", "Unknown resource URI"),
        ("assemblyai://uploads/abc", "Unknown resource URI"),
        ("https://api.assemblyai.com/v2/transcript/abc", "Unknown resource URI"),
    ],
)
async def test_bad_uris_are_refused_before_upstream(
    client: Client, respx_mock: respx.MockRouter, uri: str, message: str
) -> None:
    with pytest.raises(MCPError, match=message):
        await client.read_resource(uri)
    assert not respx_mock.calls


async def test_rate_limit_is_an_error_naming_429_and_never_the_key(
    client: Client, respx_mock: respx.MockRouter
) -> None:
    limited = {"error": "Too many requests"}
    respx_mock.get(f"{API}/v2/transcript/abc123").respond(429, json=limited)
    route = respx_mock.get(f"{API}/v2/transcript").respond(429, json=limited)
    with pytest.raises(MCPError) as read_error:
        await client.read_resource(f"{PREFIX}abc123")
    with pytest.raises(MCPError) as list_error:
        await client.list_resources(cursor="abc123")
    for caught in (read_error, list_error):
        assert "429" in caught.value.message
        assert CANARY_KEY not in caught.value.message and CANARY_KEY not in str(caught.value.data)
    assert route.calls.last.request.url.params["before_id"] == "abc123"
    assert route.calls.last.request.url.params["limit"] == str(LIST_PAGE_SIZE)
