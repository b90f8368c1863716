"""A handler tool's `calls:` in tool_schemas is what it sends: every request each handler tool makes
against the simulator matches one of its declared calls, and every declared call is made by some run
(the YAML neither hides a call nor claims one the code never makes)."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client import Client

from aai_mcp.catalog.model import Route
from aai_mcp.gateway import Gateway, build_gateway, load_default_catalog
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.transports.http import build_http_app
from tests.support import CANARY_KEY, make_settings, wav_bytes
from tests.support.faults import CLIP, MODEL, later_call_tools

pytestmark = pytest.mark.anyio

URL = "https://example.com/support-call.mp3"
SHORT_WAV = base64.b64encode(wav_bytes(1.0)).decode()  # one the Sync and Dictation APIs take
# Arguments per handler tool that, together, take every branch that reaches upstream.
# "{id}" stands for a completed transcript made before the run.
TRANSLATION = {"translation": {"target_languages": ["es"]}}
ANSWER_SCHEMA = {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]}
ANSWER_FORMAT = {"type": "json_schema", "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA}}
RUNS: dict[str, list[dict[str, Any]]] = {
    "upload_file": [{"data_base64": CLIP}, {"path": "{file}"}],
    "create_transcript": [{"audio_url": URL}],
    "transcribe": [
        {"audio_url": URL},
        {"data_base64": CLIP},
        {"audio_url": URL, "wait": False},
        {"data_base64": SHORT_WAV, "prefer": "speed"},
    ],
    "transcribe_clip": [{"data_base64": SHORT_WAV}, {"path": "{file}"}],
    "dictate": [{"data_base64": SHORT_WAV, "llm_instruction": "Tidy it."}],
    "wait_for_transcript": [{"transcript_id": "{id}"}],
    "ask_transcript": [
        {"transcript_ids": ["{id}"], "prompt": "Summarise.", "model": MODEL, "context": context}
        for context in ("utterances", "text", "sentences", "paragraphs", "vtt")
    ],
    "search": [{"query": "refund"}],
    "fetch": [{"id": "{id}"}],
    "get_transcript": [{"transcript_id": "{id}"}],
    "get_redacted_audio": [{"transcript_id": "{id}"}],
    "delete_transcript": [{"transcript_id": "{id}"}],
    # Without a store (as here) it word-searches the recent transcripts: its declared calls.
    "search_archive": [{"query": "refund"}],
    "extract_from_transcript": [{"transcript_ids": ["{id}"], "kit": "support-call-qa", "model": MODEL}],
    "llm_chat_completion": [
        {"model": MODEL, "prompt": "Hi."},
        {"model": MODEL, "prompt": "Hi.", "response_format": ANSWER_FORMAT},
    ],
    "list_llm_models": [{}, {"detail": True, "refresh": True}],
    # Local tools: the run proves they send nothing (their calls are none).
    "search_api_reference": [{"query": "speaker labels"}],
    "create_streaming_token": [
        {"expires_in_seconds": 600},
        {"expires_in_seconds": 600, "connection": {"sample_rate": 16000, "encoding": "pcm_s16le"}},
    ],
    "get_api_reference": [{"endpoint_or_product": "createTranscript"}, {"endpoint_or_product": "tts"}],
    "understand_transcript": [
        {"transcript_id": "{id}", "speech_understanding": {"request": TRANSLATION}},
        {"transcript_id": "{id}", "speech_understanding": {"request": TRANSLATION}, "dry_run": True},
    ],
    "text_to_speech": [{"text": "Hello there."}, {"text": "Hola", "encoding": "mp3", "voice_id": "aai-alba"}],
}


class Recording(httpx.AsyncBaseTransport):
    """The simulator behind a transport that keeps every outbound request."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = await self.inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        return response


@dataclass
class Rig:
    gateway: Gateway
    sim: Simulator
    client: Client
    transport: Recording
    audio_file: Path

    def host_of(self, request: httpx.Request) -> str:
        hosts = {httpx.URL(url).host: name for name, url in self.gateway.upstream.base_urls.items()}
        return hosts[request.url.host]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    transport = Recording(httpx.ASGITransport(app=app))
    audio = tmp_path / "clip.wav"
    audio.write_bytes(wav_bytes(0.5))
    settings = make_settings(upload_roots=[str(tmp_path)], wait_poll_initial_seconds=0.01)
    gateway = build_gateway(settings, transport=transport)
    try:
        async with Client(build_server(gateway)) as client:
            yield Rig(gateway, app.state.simulator, client, transport, audio)
    finally:
        await gateway.aclose()


def matches(route: Route, host: str, request: httpx.Request) -> bool:
    pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(route.path))
    same_route = (route.host, route.method) == (host, request.method)
    return same_route and re.fullmatch(pattern, request.url.path) is not None


def filled(args: dict[str, Any], transcript_id: str, audio_file: Path) -> dict[str, Any]:
    stand_ins = {"{id}": transcript_id, "{file}": str(audio_file)}

    def one(value: Any) -> Any:
        if isinstance(value, list):
            return [one(item) for item in value]
        return stand_ins.get(value, value) if isinstance(value, str) else value

    return {key: one(value) for key, value in args.items()}


async def completed_transcript(rig: Rig) -> str:
    # With redacted audio, so get_redacted_audio has a file to point at.
    redaction = {"redact_pii": True, "redact_pii_audio": True, "redact_pii_policies": ["person_name"]}
    created = await rig.client.call_tool(
        "create_transcript", {"audio_url": URL, "speaker_labels": True, **redaction}
    )
    transcript_id = str(created.structured_content["id"])
    await rig.client.call_tool("wait_for_transcript", {"transcript_id": transcript_id})
    return transcript_id


@pytest.mark.parametrize("tool", sorted(RUNS))
async def test_a_handler_tool_sends_exactly_its_declared_calls(rig: Rig, tool: str) -> None:
    spec = rig.gateway.catalog.tools[tool]
    assert spec.handler is not None, f"{tool} is a plain tool now: drop it from RUNS"
    transcript_id = await completed_transcript(rig)
    rig.transport.requests.clear()
    rig.transport.statuses.clear()
    rig.sim.requests.clear()
    for args in RUNS[tool]:
        result = await rig.client.call_tool(tool, filled(args, transcript_id, rig.audio_file))
        assert not result.is_error, result.content
    made: set[str] = set()
    for request in rig.transport.requests:
        host = rig.host_of(request)
        declared = [call.name for call in spec.calls if matches(call, host, request)]
        assert declared, f"{tool} sent {request.method} {host}:{request.url.path}, which its calls omit"
        made |= set(declared)
    assert made == {call.name for call in spec.calls}, "declared calls no run made"
    assert len(rig.sim.requests) == len(rig.transport.requests)  # each one reached the simulator
    # ... and was a route it serves (a declared path the simulator does not know answers 404).
    assert all(status < 400 for status in rig.transport.statuses), rig.transport.statuses


# Tools whose declared calls are made after the call (`later` in the catalog), when the person's file
# arrives through the link.
LINK_TOOLS = later_call_tools()


async def test_an_upload_link_sends_exactly_its_tools_declared_calls(store: SqlStore) -> None:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    transport = Recording(httpx.ASGITransport(app=app))
    gateway = build_gateway(make_settings(public_url="https://aai.example.test"), transport=transport)
    gateway.use_store(store)
    page = httpx.ASGITransport(app=build_http_app(gateway))
    try:
        async with Client(build_server(gateway)) as client, httpx.AsyncClient(transport=page) as http:
            link = (await client.call_tool("create_upload_link", {})).structured_content["url"]
            assert not transport.requests  # nothing upstream until the file arrives
            local = "http://127.0.0.1:8000" + link.removeprefix("https://aai.example.test")
            assert (await http.put(local, content=wav_bytes())).status_code == 200
            waited = await client.call_tool("wait_for_upload", {"link": link})
            assert waited.structured_content["state"] == "done"
    finally:
        await gateway.aclose()
    hosts = {httpx.URL(url).host: name for name, url in gateway.upstream.base_urls.items()}
    for tool in sorted(LINK_TOOLS):
        calls = gateway.catalog.tools[tool].calls
        for request in transport.requests:
            assert any(matches(call, hosts[request.url.host], request) for call in calls), (tool, request)
    assert [(r.method, r.url.path) for r in transport.requests] == [("POST", "/v2/upload")]


def test_every_handler_tool_is_run_here() -> None:
    handler_tools = {name for name, spec in load_default_catalog().tools.items() if spec.handler}
    assert handler_tools == set(RUNS) | LINK_TOOLS
