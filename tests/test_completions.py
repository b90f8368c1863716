"""completion/complete through the SDK client: transcript ids by prefix (only the caller's own list),
subtitle formats, LLM models from the gateway's cached list, nothing for what the caller cannot use."""

from __future__ import annotations

import pytest
from mcp.client import Client
from mcp_types import PromptReference, ResourceTemplateReference

from aai_mcp.mcp_server.reference_notes import NOTES_URI
from aai_mcp.mcp_server.resources import PREFIX
from tests.test_access_composite import in_memory
from tests.test_access_reads import as_token, completed_transcript, server

__all__ = ["server"]  # the served gateway fixture, shared with tests/test_access_reads.py

pytestmark = pytest.mark.anyio

TRANSCRIPT = ResourceTemplateReference(uri=f"{PREFIX}{{id}}")
SUBTITLES = ResourceTemplateReference(uri=f"{PREFIX}{{id}}/subtitles.{{format}}")
PROMPT = PromptReference(name="call_phases")


async def values(
    client: Client, ref: ResourceTemplateReference | PromptReference, name: str, value: str
) -> list[str]:
    result = await client.complete(ref, {"name": name, "value": value})
    return result.completion.values


async def created(client: Client, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        result = await client.call_tool("create_transcript", {"audio_url": "https://example.com/call.mp3"})
        assert not result.is_error, result.content
        ids.append(str(result.structured_content["id"]))
    return ids


async def test_transcript_ids_complete_by_prefix_for_prompts_and_templates() -> None:
    async with in_memory() as (client, _):
        ids = await created(client, 3)
        assert set(await values(client, TRANSCRIPT, "id", "")) == set(ids)
        prefix = ids[1][:6]
        wanted = {i for i in ids if i.startswith(prefix)}
        assert set(await values(client, TRANSCRIPT, "id", prefix)) == wanted
        assert set(await values(client, PROMPT, "transcript_id", prefix)) == wanted
        assert await values(client, TRANSCRIPT, "id", "no-such-prefix") == []


async def test_transcript_ids_need_the_list_permission() -> None:
    async with in_memory(tools=["get_transcript", "create_transcript"]) as (client, simulator):
        await created(client, 2)
        before = len(simulator.requests)
        assert await values(client, TRANSCRIPT, "id", "") == []
        assert len(simulator.requests) == before  # not even asked upstream


async def test_subtitle_formats_complete() -> None:
    async with in_memory() as (client, _):
        assert await values(client, SUBTITLES, "format", "") == ["srt", "vtt"]
        assert await values(client, SUBTITLES, "format", "v") == ["vtt"]
        assert await values(client, TRANSCRIPT, "format", "") == []  # that template has no {format}


async def test_models_come_from_the_cached_gateway_list() -> None:
    async with in_memory(llm_models=["claude-sonnet-4-6", "gpt-5-mini"]) as (client, simulator):
        # Before any list was read: the configured models, and no upstream request spent on it.
        assert await values(client, PROMPT, "model", "claude") == ["claude-sonnet-4-6"]
        assert not [r for r in simulator.requests if r.route.endswith("/v1/models")]
        listed = await client.call_tool("list_llm_models", {})
        gateway_ids = {model["id"] for model in listed.structured_content["models"]}
        offered = await values(client, PROMPT, "model", "")
        assert set(offered) == gateway_ids & {"claude-sonnet-4-6", "gpt-5-mini"}  # the operator's allow-list
        assert all(model.startswith("gpt") for model in await values(client, PROMPT, "model", "gpt"))


async def test_the_gateway_list_is_offered_when_the_operator_allows_every_model() -> None:
    async with in_memory() as (client, _):
        listed = await client.call_tool("list_llm_models", {})
        gateway_ids = sorted(model["id"] for model in listed.structured_content["models"])
        assert await values(client, PROMPT, "model", "") == gateway_ids
        gemini = [model for model in gateway_ids if model.startswith("gemini")]
        assert gemini and await values(client, PROMPT, "model", "gemini") == gemini


async def test_unknown_refs_and_arguments_offer_nothing() -> None:
    async with in_memory() as (client, _):
        await created(client, 1)
        assert await values(client, PromptReference(name="no_such_prompt"), "transcript_id", "") == []
        assert await values(client, PROMPT, "phases", "") == []
        assert (
            await values(client, ResourceTemplateReference(uri="assemblyai://elsewhere/{id}"), "id", "") == []
        )


async def test_a_caller_without_the_prompts_gets_no_model_completion() -> None:
    async with in_memory(tools=["get_transcript"]) as (client, _):
        assert await values(client, PROMPT, "model", "") == []


async def test_the_model_argument_reaches_ask_transcript() -> None:
    async with in_memory() as (client, _):
        prompt = await client.get_prompt(
            "call_phases", {"audio_url": "https://example.com/a.mp3", "phases": "x", "model": "gpt-5-mini"}
        )
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert '"model": "gpt-5-mini"' in text


@pytest.mark.slow
async def test_a_served_token_completes_ids_only_with_list_permission(server: str) -> None:
    """Over HTTP with signed tokens: the caller's scopes, not the server's, decide what is offered."""
    transcript_id = await completed_transcript(server)
    async with as_token(server, {"get_transcript"}) as client:
        without = await values(client, TRANSCRIPT, "id", transcript_id[:4])
        listed = await client.list_resources()
    async with as_token(server, {"get_transcript", "list_transcripts"}) as client:
        with_list = await values(client, TRANSCRIPT, "id", transcript_id[:4])
    async with as_token(server, {"get_api_reference"}) as client:
        notes = (await client.list_resources()).resources
    assert without == [] and transcript_id in with_list
    assert NOTES_URI not in {str(resource.uri) for resource in listed.resources}
    assert [str(resource.uri) for resource in notes] == [NOTES_URI]
