"""The no-key path end to end: the gateway on its in-process simulator, through the MCP client."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from mcp.client import Client

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from tests.support import error_details, make_settings, wav_bytes

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sim_client() -> AsyncIterator[Client]:
    gateway = build_gateway(make_settings(api_key=None, simulator_delay_seconds=0.0))
    try:
        async with Client(build_server(gateway)) as client:
            yield client
    finally:
        await gateway.aclose()


async def test_upload_then_transcribe_then_read(sim_client: Client) -> None:
    uploaded = await sim_client.call_tool(
        "upload_file", {"data_base64": base64.b64encode(wav_bytes()).decode()}
    )
    assert not uploaded.is_error, uploaded.content
    upload_url = uploaded.structured_content["upload_url"]
    created = await sim_client.call_tool(
        "create_transcript", {"audio_url": upload_url, "speaker_labels": True}
    )
    transcript_id = created.structured_content["id"]
    done = await sim_client.call_tool("get_transcript", {"transcript_id": transcript_id})
    assert done.structured_content["status"] == "completed"
    assert {u["speaker"] for u in done.structured_content["utterances"]} >= {"A", "B"}
    paragraphs = await sim_client.call_tool("get_paragraphs", {"transcript_id": transcript_id})
    assert paragraphs.structured_content["total"] > 0
    srt = await sim_client.call_tool(
        "get_subtitles", {"transcript_id": transcript_id, "subtitle_format": "srt"}
    )
    assert "-->" in srt.structured_content["text"]
    word = done.structured_content["text"].split()[3].strip(".,?!").lower()
    found = await sim_client.call_tool("search_words", {"transcript_id": transcript_id, "words": [word]})
    assert found.structured_content["total_count"] >= 1
    listed = await sim_client.call_tool("list_transcripts", {"limit": 5})
    assert transcript_id in [t["id"] for t in listed.structured_content["transcripts"]]
    deleted = await sim_client.call_tool("delete_transcript", {"transcript_id": transcript_id})
    assert deleted.structured_content["deleted"] is True


async def test_unreadable_upload_ends_as_a_failed_job(sim_client: Client) -> None:
    text = base64.b64encode(b"this is not audio at all, just some text").decode()
    uploaded = await sim_client.call_tool("upload_file", {"data_base64": text})
    created = await sim_client.call_tool(
        "create_transcript", {"audio_url": uploaded.structured_content["upload_url"]}
    )
    failed = await sim_client.call_tool("get_transcript", {"transcript_id": created.structured_content["id"]})
    assert failed.is_error
    assert failed.structured_content["status"] == "error"
    assert "audio" in failed.structured_content["error"]
    assert "create_transcript" in failed.structured_content["next_step"]


async def test_sentences_before_completion_are_a_clear_upstream_error() -> None:
    gateway = build_gateway(make_settings(api_key=None, simulator_delay_seconds=60.0))
    async with Client(build_server(gateway)) as client:
        created = await client.call_tool("create_transcript", {"audio_url": "https://example.com/a.mp3"})
        early = await client.call_tool("get_sentences", {"transcript_id": created.structured_content["id"]})
    await gateway.aclose()
    assert early.is_error
    assert error_details(early)["status"] == 400
    assert "not completed" in early.content[0].text  # type: ignore[union-attr]


async def test_llm_answer_and_tokens_from_the_simulator(sim_client: Client) -> None:
    created = await sim_client.call_tool("create_transcript", {"audio_url": "https://example.com/a.mp3"})
    transcript_id = created.structured_content["id"]
    await sim_client.call_tool("get_transcript", {"transcript_id": transcript_id})
    answer = await sim_client.call_tool(
        "llm_chat_completion",
        {
            "model": "claude-sonnet-4-6",
            "transcript_id": transcript_id,
            "messages": [{"role": "user", "content": "Summarise: {{ transcript }}"}],
        },
    )
    assert not answer.is_error, answer.content
    assert answer.structured_content["answer"] and answer.structured_content["usage"]["total_tokens"] > 0
    agent = await sim_client.call_tool("create_voice_agent_token", {"expires_in_seconds": 120})
    assert agent.structured_content["websocket_url"].endswith(agent.structured_content["token"])


async def test_a_two_second_upload_is_a_two_second_transcript(sim_client: Client) -> None:
    clip = base64.b64encode(wav_bytes(2.0)).decode()
    upload_url = (await sim_client.call_tool("upload_file", {"data_base64": clip})).structured_content[
        "upload_url"
    ]
    created = await sim_client.call_tool(
        "create_transcript", {"audio_url": upload_url, "speaker_labels": True}
    )
    transcript_id = created.structured_content["id"]
    done = await sim_client.call_tool(
        "get_transcript", {"transcript_id": transcript_id, "include_words": True}
    )
    assert done.structured_content["audio_duration"] == 2
    sentences = await sim_client.call_tool("get_sentences", {"transcript_id": transcript_id})
    spans = done.structured_content["words"] + done.structured_content["utterances"]
    spans += sentences.structured_content["items"]
    assert len(spans) > 300 and max(span["end"] for span in spans) <= 2000
