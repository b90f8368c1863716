"""Who may call the one-request tools: reading the server's files or fetching a URL is upload_file's
capability (as for transcribe), and dictate's LLM rewrite needs the llm method class too."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client import Client

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, error_details, make_settings, text_of, wav_bytes

pytestmark = pytest.mark.anyio

CLIP = base64.b64encode(wav_bytes(1.0)).decode()


async def calls(audio_file: Path, methods: list[str], *tool_calls: tuple[str, dict[str, Any]]) -> Any:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    settings = make_settings(upload_roots=[audio_file.parent], methods=methods)
    gateway = build_gateway(settings, transport=httpx.ASGITransport(app=app))
    try:
        async with Client(build_server(gateway)) as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            results = [await client.call_tool(name, args) for name, args in tool_calls]
    finally:
        await gateway.aclose()
    return listed, results, [request.route for request in app.state.simulator.requests]


async def test_a_file_or_url_clip_needs_upload_files_permission(tmp_path: Path) -> None:
    audio = tmp_path / "note.wav"
    audio.write_bytes(wav_bytes(1.0))
    listed, results, routes = await calls(
        audio,
        ["transcription"],
        ("transcribe_clip", {"path": str(audio)}),
        ("transcribe_clip", {"url": "https://example.com/note.wav"}),
        ("transcribe_clip", {"data_base64": CLIP}),
    )
    assert "transcribe_clip" in listed and "upload_file" not in listed and "dictate" not in listed
    for refused, source in zip(results[:2], ("path", "url"), strict=True):
        error = error_details(refused)
        assert error["kind"] == "forbidden" and f"transcribe_clip with {source} needs" in error["message"]
    assert not results[2].is_error, text_of(results[2])
    assert routes == ["POST /sync/v1/transcribe/live"]  # only the allowed call reached upstream


async def test_with_uploads_allowed_a_path_is_read(tmp_path: Path) -> None:
    audio = tmp_path / "note.wav"
    audio.write_bytes(wav_bytes(1.0))
    _, results, routes = await calls(
        audio,
        ["transcription", "upload", "llm"],
        ("transcribe_clip", {"path": str(audio)}),
        ("dictate", {"path": str(audio)}),
    )
    assert [result.is_error for result in results] == [False, False]
    assert routes == ["POST /sync/v1/transcribe/live", "POST /dictation/v1/transcribe/live"]
