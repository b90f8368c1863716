"""transcribe's sync path: with prefer="speed", a short local clip whose requested features the Sync
API has goes to the Sync API and comes back in one request (no job, no polling); anything else takes
the async path, and the result says which ran and why."""

from __future__ import annotations

from typing import Any

from aai_mcp.caller_input import ToolInputError
from aai_mcp.mcp_server.handlers.clip_audio import Clip, clip_from
from aai_mcp.mcp_server.handlers.instant import SYNC_MODEL, keyterms, send_clip
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream import UpstreamError

# create_transcript fields the Sync API can honour (named in transcribe's description). speech_models
# is accepted because create_transcript always sends one: the sync path answers with its one model.
SYNC_COMPATIBLE = frozenset({"speech_models", "language_code", "language_codes", "prompt", "keyterms_prompt"})
# The Sync API takes the audio itself: a url or an upload link is already somewhere AssemblyAI reads.
SYNC_SOURCES = ("path", "data_base64")


async def sync_or_reason(call: ToolCall, source: str, value: str) -> dict[str, Any] | str:
    """The transcript from the Sync API, or why this call takes the async path instead."""
    reason = _declined(call, source)
    if reason is not None:
        return reason
    try:
        clip = await clip_from(call, source, value)
    except ToolInputError as exc:
        return f"the clip is not one the Sync API takes: {exc}"
    try:
        answer = await send_clip(call, "sync", clip, _config(call.args), SYNC_MODEL)
    except UpstreamError as exc:
        raise exc.during("The Sync API did not transcribe the clip (nothing was stored)") from None
    return as_transcript(answer, clip)


def _declined(call: ToolCall, source: str) -> str | None:
    if source not in SYNC_SOURCES:
        return f"{source} audio goes to the async API (the Sync API takes a local file or data_base64)"
    body = call.spec.params.body
    asked = sorted(name for name in body if name in call.args and name not in SYNC_COMPATIBLE)
    if asked:
        return f"the Sync API does not offer {', '.join(asked)}"
    return None


def _config(args: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    codes = args.get("language_codes") or ([args["language_code"]] if args.get("language_code") else [])
    if codes:
        config["language_codes"] = list(codes)
    if args.get("prompt"):
        config["prompt"] = args["prompt"]
    if args.get("keyterms_prompt"):
        config["keyterms_prompt"] = keyterms(args["keyterms_prompt"])
    if args.get("include_words"):
        config["timestamps"] = True
    return config


def as_transcript(answer: dict[str, Any], clip: Clip) -> dict[str, Any]:
    """The Sync answer in transcribe's transcript shape (no job id: the session id stands in)."""
    duration_ms = answer.get("audio_duration_ms", clip.duration_ms)
    return {
        "id": str(answer.get("session_id") or ""),
        "status": "completed",
        "text": answer["text"],
        "confidence": answer.get("confidence"),
        "audio_duration": round(float(duration_ms) / 1000, 3),
        "speech_model_used": SYNC_MODEL,
        "words": answer.get("words") or [],
        "transcription_path": "sync",
    }
