"""text_to_speech: one buffered POST /v1/speech; small audio inline, larger audio as a resource."""

from __future__ import annotations

from typing import Any

import httpx

from aai_mcp.mcp_server.runtime.forward import request_body, send
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.mcp_server.views.contract import InlineAudio
from aai_mcp.upstream.errors import malformed_body

SPEECH_CALLS = frozenset({"speech"})
# Base64 makes 1 MB about 1.33 MB of JSON: still a result every client here takes in one message.
INLINE_AUDIO_BYTES = 1_000_000
# X-TTS-* header -> structuredContent key (ENDPOINTS-SDK-2026-10.md §3.1; SDK tts/v1/api.py:57-76).
TEXT_HEADERS = {
    "x-request-id": "request_id",
    "x-tts-region": "region",
    "x-tts-model": "model",
    "x-tts-voice-id": "voice_id",
    "x-tts-language": "language",
    "x-tts-encoding": "encoding",
    "x-tts-container": "container",
}
NUMBER_HEADERS = {
    "x-tts-sample-rate": "sample_rate",
    "x-tts-bit-rate": "bit_rate",
    "x-tts-billed-characters": "billed_characters",
    "x-tts-audio-duration-ms": "audio_duration_ms",
    "x-tts-voice-expires-at": "voice_expires_at",
}


async def text_to_speech(call: ToolCall) -> dict[str, Any]:
    # Buffered, not streamed: one tool result holds the whole clip, and only a buffered answer
    # carries its duration (X-TTS-Audio-Duration-Ms).
    body = {**request_body(call), "stream": False}
    response = await send(call, "speech", json_body=body)
    content_type = response.headers.get("content-type", "")
    if not content_type.lower().startswith("audio/"):
        # A proxy's page or a JSON body with a 200 is no clip: never hand it to the client as audio.
        raise malformed_body(response.status_code, "a body that is not audio")
    out: dict[str, Any] = {"content_type": content_type, "bytes": len(response.content)}
    out |= response_metadata(response.headers)
    if len(response.content) <= INLINE_AUDIO_BYTES or call.clips is None:
        out["delivery"] = "inline"
        out["audio"] = InlineAudio(response.content, content_type)
        return out
    uri, expires_at = await call.clips.keep(call.owner, response.content, content_type)
    out["delivery"] = "resource"
    out["download"] = {"uri": uri, "expires_at": expires_at}
    return out


def response_metadata(headers: httpx.Headers) -> dict[str, Any]:
    found: dict[str, Any] = {key: headers[name] for name, key in TEXT_HEADERS.items() if headers.get(name)}
    for name, key in NUMBER_HEADERS.items():
        value = headers.get(name, "")
        if value.isdigit():
            found[key] = int(value)
    return found
