"""transcribe and wait_for_transcript with `include`: only the parts asked for, the same outputSchema,
today's result when it is left out, and bad values refused before anything is sent upstream."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from mcp.client import Client

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.views.transcript import DETAIL_FIELDS
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, make_settings, text_of, wav_bytes

pytestmark = pytest.mark.anyio

URL = "https://example.com/support-call.mp3"
CONTENT_KEYS = {"text", "text_range", "utterances", "words", "audio_duration", "confidence", "language_code"}
CLIP = base64.b64encode(wav_bytes(0.2)).decode()
ALWAYS = {"id", "status", "next_step", "waited_seconds", "timed_out"}


@dataclass
class Rig:
    client: Client
    sim: Simulator
    schemas: dict[str, dict[str, Any]]

    async def call(self, tool: str, args: dict[str, Any]) -> Any:
        result = await self.client.call_tool(tool, args)
        assert not result.is_error, result.content
        # The client checks this too; asserting it here says which schema a smaller result must meet.
        Draft202012Validator(self.schemas[tool]).validate(result.structured_content)
        return result


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0))
    gateway = build_gateway(make_settings(), transport=httpx.ASGITransport(app=app))
    try:
        async with Client(build_server(gateway)) as client:
            tools = (await client.list_tools()).tools
            schemas = {tool.name: tool.output_schema for tool in tools if tool.output_schema}
            yield Rig(client, app.state.simulator, schemas)
    finally:
        await gateway.aclose()


async def test_without_include_the_result_is_the_whole_compact_transcript(rig: Rig) -> None:
    args = {"audio_url": URL, "speaker_labels": True, "entity_detection": True}
    default = (await rig.call("transcribe", args)).structured_content
    assert {"text", "utterances", "audio_duration", "confidence", "entities"} <= set(default)
    assert not any("Left out as asked" in note for note in default.get("notes", []))
    every = await rig.call("transcribe", {**args, "include": ["features", "details", "utterances", "text"]})
    assert every.structured_content.keys() == default.keys()


async def test_an_empty_include_returns_the_id_and_status_only(rig: Rig) -> None:
    result = await rig.call("transcribe", {"audio_url": URL, "speaker_labels": True, "include": []})
    data = result.structured_content
    assert set(data) == ALWAYS | {"transcription_path", "notes"}
    assert data["status"] == "completed" and "ask_transcript" in data["next_step"]
    assert data["notes"] == ["Left out as asked (include): text, utterances, details, features."]
    text = text_of(result)
    assert "Thank you for calling" not in text and data["id"] in text
    assert len(result.model_dump_json()) < 1_200


@pytest.mark.parametrize(
    ("include", "present", "absent"),
    [
        (["utterances"], {"utterances"}, {"text", "audio_duration", "entities"}),
        (["text"], {"text"}, {"utterances", "audio_duration", "entities"}),
        (["details"], {"audio_duration", "confidence", "language_code"}, {"text", "utterances", "entities"}),
        (["features"], {"entities"}, {"text", "utterances", "audio_duration"}),
    ],
)
async def test_each_part_comes_alone(
    rig: Rig, include: list[str], present: set[str], absent: set[str]
) -> None:
    args = {"audio_url": URL, "speaker_labels": True, "entity_detection": True, "include": include}
    data = (await rig.call("transcribe", args)).structured_content
    assert present <= set(data) and not absent & set(data)


async def test_words_follow_include_words_whatever_include_says(rig: Rig) -> None:
    args = {"audio_url": URL, "include": [], "include_words": True}
    data = (await rig.call("transcribe", args)).structured_content
    assert data["words"] and "text" not in data


async def test_wait_for_transcript_takes_include_too(rig: Rig) -> None:
    created = await rig.call("transcribe", {"audio_url": URL, "wait": False, "include": []})
    transcript_id = created.structured_content["id"]
    waited = await rig.call("wait_for_transcript", {"transcript_id": transcript_id, "include": ["details"]})
    data = waited.structured_content
    assert data["status"] == "completed" and data["audio_duration"] > 0
    assert not (CONTENT_KEYS - {"audio_duration", "confidence", "language_code"}) & set(data)
    whole = await rig.call("wait_for_transcript", {"transcript_id": transcript_id})
    assert whole.structured_content["text"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"audio_url": URL, "include": ["summary"]}, "include.0"),
        ({"audio_url": URL, "include": "text"}, "include"),
        ({"audio_url": URL, "include": ["text", "text", "details", "features", "utterances"]}, "include"),
        ({"data_base64": CLIP, "prefer": "speed", "include": ["utterances"]}, "Sync API"),
    ],
)
async def test_bad_include_is_refused_before_anything_is_sent(
    rig: Rig, args: dict[str, Any], needle: str
) -> None:
    result = await rig.client.call_tool("transcribe", args)
    assert result.is_error and needle in text_of(result)
    assert not rig.sim.requests


async def test_the_sync_path_returns_the_text_and_only_the_parts_asked_for(rig: Rig) -> None:
    args = {"data_base64": CLIP, "prefer": "speed"}
    whole = (await rig.call("transcribe", args)).structured_content
    data = (await rig.call("transcribe", {**args, "include": ["text"]})).structured_content
    assert data["transcription_path"] == whole["transcription_path"] == "sync"
    assert data["text"] == whole["text"] and "audio_duration" in whole
    assert set(data) == (set(whole) - set(DETAIL_FIELDS)) | {"notes"}
    assert [r.path for r in rig.sim.requests] == ["/sync/v1/transcribe/live"] * 2
