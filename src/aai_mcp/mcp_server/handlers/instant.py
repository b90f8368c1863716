"""transcribe_clip (the Sync STT API) and dictate (the Dictation API): a short clip in, the transcript
back in the same call. Both take the audio bytes in a config-first multipart body; neither takes a
URL, so a url is fetched here under upload_file's guard. Facts follow ENDPOINTS-SDK-2026-10.md (SDK
1.8.2), which wins over the older ENDPOINTS.md where they differ."""

from __future__ import annotations

from typing import Any

from aai_mcp.caller_input import ToolInputError
from aai_mcp.mcp_server.handlers.clip_audio import Clip, clip_from
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream.config_first import config_first_body
from aai_mcp.upstream.errors import malformed_body

CLIP_SOURCES = ("path", "url", "data_base64")
SYNC_CALLS = frozenset({"sync"})
DICTATION_CALLS = frozenset({"dictate"})
SYNC_MODEL = "universal-3-5-pro"
MAX_KEYTERM_CHARS = 8000
MAX_CONTEXT_TURNS = 500
MAX_CONTEXT_CHARS = 16000
SYNC_FIELDS = ("prompt", "language_codes", "timestamps")
DICTATION_FIELDS = ("language_codes", "stt_prompt", "llm_instruction", "rewrite_mode")


async def transcribe_clip(call: ToolCall) -> dict[str, Any]:
    clip = await _clip(call)
    model = str(call.args.get("model") or SYNC_MODEL)
    answer = await send_clip(call, "sync", clip, sync_config(call.args, clip), model)
    return {**answer, "model": model}


async def dictate(call: ToolCall) -> dict[str, Any]:
    clip = await _clip(call)
    return await send_clip(call, "dictate", clip, dictation_config(call.args, clip), None)


async def _clip(call: ToolCall) -> Clip:
    given = [name for name in CLIP_SOURCES if call.args.get(name) is not None]
    if len(given) != 1:
        raise ToolInputError(
            f"Give exactly one of path, url or data_base64 (got {', '.join(given) or 'none'}): "
            "the clip itself, which the server sends (this API takes no URL of its own)."
        )
    return await clip_from(call, given[0], str(call.args[given[0]]))


def sync_config(args: dict[str, Any], clip: Clip) -> dict[str, Any]:
    """The Sync API's config JSON; the model goes in X-AAI-Model, never in the body."""
    config = _given(args, SYNC_FIELDS)
    if args.get("keyterms_prompt") is not None:
        config["keyterms_prompt"] = keyterms(args["keyterms_prompt"])
    if args.get("conversation_context") is not None:
        config["conversation_context"] = trimmed_context(args["conversation_context"])
    return {**config, **_pcm_fields(args, clip)}


def dictation_config(args: dict[str, Any], clip: Clip) -> dict[str, Any]:
    """Exactly the DictationConfig keys (the API refuses others: `extra="forbid"` in the SDK)."""
    config = _given(args, DICTATION_FIELDS)
    if args.get("keyterms_prompt") is not None:
        config["keyterms_prompt"] = keyterms(args["keyterms_prompt"])
    return {**config, **_pcm_fields(args, clip)}


def _given(args: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: args[name] for name in names if args.get(name) is not None}


def _pcm_fields(args: dict[str, Any], clip: Clip) -> dict[str, Any]:
    # Only raw PCM needs them; a WAV's header carries its own (the API ignores them for WAV).
    if clip.content_type != "audio/pcm":
        return {}
    return {"sample_rate": args["sample_rate"], "channels": args["channels"]}


def keyterms(terms: list[str]) -> list[str]:
    """Stripped, empties dropped; more than 8000 characters in all is refused (the SDK's rule too)."""
    kept = [term.strip() for term in terms if term.strip()]
    total = sum(len(term) for term in kept)
    if total > MAX_KEYTERM_CHARS:
        raise ToolInputError(f"keyterms_prompt holds {total} characters; the API takes at most 8000.")
    return kept


def trimmed_context(context: str | list[str]) -> list[str]:
    """Turns stripped, empties dropped, the oldest dropped first beyond 500 turns or 16000 characters:
    the trim the server itself applies (SDK types.py:2815-2840), so nothing is refused for length."""
    turns = [turn.strip() for turn in ([context] if isinstance(context, str) else context) if turn.strip()]
    turns = turns[-MAX_CONTEXT_TURNS:]
    while turns and sum(len(turn) for turn in turns) > MAX_CONTEXT_CHARS:
        turns.pop(0)
    return turns


async def send_clip(
    call: ToolCall, name: str, clip: Clip, config: dict[str, Any], model: str | None
) -> dict[str, Any]:
    """One config-first multipart POST to the declared call `name`; the JSON answer."""
    body, content_type = config_first_body(config, clip.audio, clip.filename, clip.content_type)
    headers = {"Content-Type": content_type}
    if model is not None:
        headers["X-AAI-Model"] = model  # required by the Sync API on every request
    # The upload timeout (per read or write, 900 s by default): the body is up to 40 MB, and the answer
    # comes after the whole clip is transcribed (the SDK allows 180 s per operation, dictation 300 s).
    timeout = call.settings.upload_timeout_seconds
    answer = await call.upstream.post_whole(call.spec.call(name), body, headers, timeout)
    if not isinstance(answer, dict) or not isinstance(answer.get("text"), str):
        raise malformed_body(200, "no transcript text in the answer")
    return answer
