"""get_redacted_audio: AssemblyAI's two non-answers said as what they mean.

The official SDK (1.8.2, prerecorded/v2/api.py:143-178) reads HTTP 202 as "not ready yet"
(RedactedAudioIncompleteError) and HTTP 400 as "expired" (RedactedAudioExpiredError); the 2026-03
spec documents neither, so the SDK is followed. A 202 forwarded as is would be a result without a
URL that looks like success.
"""

from __future__ import annotations

from typing import Any

import httpx

from aai_mcp.mcp_server.runtime.forward import send
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream import decode_json
from aai_mcp.upstream.errors import ErrorKind, UpstreamError

REDACTED_AUDIO_CALLS = frozenset({"read"})
NOT_READY = 202
EXPIRED = 400


async def get_redacted_audio(call: ToolCall) -> Any:
    try:
        response = await send(call, "read", str(call.args["transcript_id"]))
    except UpstreamError as exc:
        raise expired(exc) if exc.status == EXPIRED else exc from None
    if response.status_code == NOT_READY:
        raise not_ready(response)
    return decode_json(response)


def not_ready(response: httpx.Response) -> UpstreamError:
    try:
        answer = decode_json(response)
    except UpstreamError:  # an empty or non-JSON 202 says the same
        answer = None
    status = answer.get("status") if isinstance(answer, dict) else None
    shown = f" (transcript status {status!r})" if isinstance(status, str) and status.isidentifier() else ""
    return UpstreamError(
        message="The redacted audio is not ready yet (HTTP 202)"
        f"{shown}: AssemblyAI makes it after the transcript completes. Call wait_for_transcript, "
        "then get_redacted_audio again.",
        kind=ErrorKind.UPSTREAM_UNAVAILABLE,
        status=NOT_READY,
    )


def expired(exc: UpstreamError) -> UpstreamError:
    exc.message = (
        "The redacted audio has expired or was never made (HTTP 400): AssemblyAI keeps it for a "
        "limited time, and only for a transcript created with redact_pii and redact_pii_audio. "
        f"Calling again will not help. Upstream said: {exc.message}"
    )
    return exc
