"""The 2026-10 tools through an independent client: the MCP Inspector CLI (node) against `aai-mcp
serve` on its built-in simulator, each tool called once and its result read back."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import wav_bytes
from tests.support.servers import serve_in_process
from tests.test_inspector_cli import inspector

pytestmark = pytest.mark.slow
SPOKEN = "Hello from the inspector."


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with serve_in_process("--simulator-delay-seconds", "0") as server:
        yield f"{server.base_url}/mcp"


def call(url: str, tool: str, **arguments: Any) -> dict[str, Any]:
    args: list[str] = []
    for name, value in arguments.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        args += ["--tool-arg", f"{name}={shown}"]
    result = inspector(url, "--method", "tools/call", "--tool-name", tool, *args)
    assert result["isError"] is False, result["content"]
    return result


def clip() -> str:
    return base64.b64encode(wav_bytes(1.0)).decode()


def test_the_new_tools_are_listed(mcp_url: str) -> None:
    names = {tool["name"] for tool in inspector(mcp_url, "--method", "tools/list")["tools"]}
    assert {
        "transcribe_clip",
        "dictate",
        "text_to_speech",
        "create_tts_token",
        "list_llm_models",
        "search_api_reference",
        "get_api_reference",
    } <= names


def test_transcribe_clip(mcp_url: str) -> None:
    result = call(mcp_url, "transcribe_clip", data_base64=clip(), timestamps=True)
    answer = result["structuredContent"]
    assert (answer["text"], answer["audio_duration_seconds"], answer["model"]) == (
        "Thank you",
        1,
        "universal-3-5-pro",
    )
    assert "Thank you" in result["content"][0]["text"]


def test_dictate(mcp_url: str) -> None:
    result = call(mcp_url, "dictate", data_base64=clip(), llm_instruction="Make a bulleted list.")
    answer = result["structuredContent"]
    assert answer["text"] == "Thank you" and answer["final_text"] == "- Thank you"
    assert "- Thank you" in result["content"][0]["text"]


def test_text_to_speech(mcp_url: str) -> None:
    result = call(mcp_url, "text_to_speech", text=SPOKEN, container="wav")
    answer = result["structuredContent"]
    assert answer["delivery"] == "inline" and answer["billed_characters"] == len(SPOKEN)
    (audio,) = [block for block in result["content"] if block["type"] == "audio"]
    assert audio["mimeType"].startswith("audio/wav")
    assert base64.b64decode(audio["data"])[:4] == b"RIFF"


def test_create_tts_token(mcp_url: str) -> None:
    answer = call(mcp_url, "create_tts_token", expires_in_seconds=60)["structuredContent"]
    assert answer["token"] and answer["expires_at"].endswith("Z")
    assert answer["websocket_url"].endswith("/v1/ws?token=" + answer["token"])
    assert answer["max_session_duration_seconds"] == 3600


def test_create_streaming_token_with_connection_parameters(mcp_url: str) -> None:
    connection = {"sample_rate": 16000, "speech_model": "u3-rt-pro", "voice_focus": "near-field"}
    answer = call(mcp_url, "create_streaming_token", expires_in_seconds=60, connection=connection)
    url = answer["structuredContent"]["websocket_url"]
    assert "/v3/ws?sample_rate=16000&speech_model=u3-rt-pro&voice_focus=near-field&token=" in url


def test_list_llm_models(mcp_url: str) -> None:
    result = call(mcp_url, "list_llm_models")
    assert "claude-sonnet-4-6" in result["content"][0]["text"]
    assert "claude-sonnet-4-6" in json.dumps(result["structuredContent"])


def test_search_api_reference(mcp_url: str) -> None:
    answer = call(mcp_url, "search_api_reference", query="sync transcribe")["structuredContent"]
    assert "sync" in answer["products"] and answer["count"] == len(answer["hits"]) >= 1


def test_get_api_reference(mcp_url: str) -> None:
    answer = call(mcp_url, "get_api_reference", endpoint_or_product="sync")["structuredContent"]
    assert answer["product"] == "sync" and answer["host"] == "https://sync.assemblyai.com"
    assert "POST /v1/transcribe/live" in {endpoint["endpoint"] for endpoint in answer["endpoints"]}
