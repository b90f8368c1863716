"""Transcript jobs: start one (with the gateway's webhook when capture is on), wait for one with
progress, and transcribe in one call."""

from __future__ import annotations

from typing import Any

from aai_mcp.mcp_server.handlers.polling import WaitOutcome
from aai_mcp.mcp_server.handlers.speed_path import sync_or_reason
from aai_mcp.mcp_server.handlers.upload_links import upload_url_of_link
from aai_mcp.mcp_server.handlers.uploads import one_source, upload_from
from aai_mcp.mcp_server.runtime.forward import read_object, request_body, send
from aai_mcp.mcp_server.runtime.tool_call import ToolCall, note_job
from aai_mcp.mcp_server.views.transcript_parts import check_include
from aai_mcp.upstream import UpstreamError, decode_json
from aai_mcp.upstream.errors import malformed_body
from aai_mcp.webhooks.submission import with_gateway_webhook

TRANSCRIBE_SOURCES = ("audio_url", "path", "data_base64", "upload_link")
WAIT_CALLS = frozenset({"read"})
TRANSCRIBE_CALLS = frozenset({"upload", "create", "read", "sync"})
CREATE_CALLS = frozenset({"create"})


def _timeout(call: ToolCall) -> float:
    asked = float(call.args.get("timeout_seconds") or call.settings.wait_default_seconds)
    return min(asked, call.settings.wait_max_seconds)


async def _wait(call: ToolCall, transcript_id: str) -> WaitOutcome:
    assert call.poller is not None

    async def fetch(polled: str) -> dict[str, Any]:
        return await read_object(call, "read", polled)

    return await call.poller.wait(transcript_id, _timeout(call), call.progress, fetch, call.partition)


def _with_wait(outcome: WaitOutcome) -> dict[str, Any]:
    return {**outcome.transcript, "waited_seconds": outcome.waited_seconds, "timed_out": outcome.timed_out}


def _create_body(call: ToolCall) -> dict[str, Any]:
    return with_gateway_webhook(request_body(call), call.settings)


async def create_transcript(call: ToolCall) -> Any:
    return decode_json(await send(call, "create", json_body=_create_body(call)))


async def wait_for_transcript(call: ToolCall) -> dict[str, Any]:
    transcript_id = str(call.args["transcript_id"])
    return _with_wait(await _wait(call, transcript_id))


async def transcribe(call: ToolCall) -> dict[str, Any]:
    source, value = one_source(call, TRANSCRIBE_SOURCES)
    check_include(call.args)
    ran: dict[str, Any] = {"transcription_path": "async"}
    if call.args.get("prefer") == "speed":
        outcome = await sync_or_reason(call, source, value)
        if isinstance(outcome, dict):
            return outcome
        ran["sync_declined"] = outcome
    return {**await _transcribe_async(call, source, value), **ran}


async def _transcribe_async(call: ToolCall, source: str, value: str) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    body = _create_body(call)
    if source == "upload_link":
        steps["upload_url"] = body["audio_url"] = await upload_url_of_link(call, value)
    elif source != "audio_url":
        try:
            uploaded = await upload_from(call, source, value)
        except UpstreamError as exc:
            raise exc.during("Upload failed, so no transcript was created") from None
        steps["upload_url"] = body["audio_url"] = uploaded["upload_url"]
    try:
        response = await send(call, "create", json_body=body)
        created = decode_json(response)
    except UpstreamError as exc:
        if exc.outcome_unknown:
            stage = (
                "Creating the transcript may have succeeded although no answer came back, so a job may be "
                "running: look for it with list_transcripts before transcribing again"
            )
            raise exc.during(stage, **steps) from None
        raise exc.during("Creating the transcript failed, so nothing is being transcribed", **steps) from None
    if not isinstance(created, dict) or not created.get("id"):
        raise malformed_body(
            response.status_code, "no transcript id (the job may exist: see list_transcripts)"
        )
    transcript_id = str(created["id"])
    await note_job(transcript_id)
    if not call.args.get("wait", True):
        return {**created, **steps}
    try:
        outcome = await _wait(call, transcript_id)
    except UpstreamError as exc:
        raise exc.during(
            f"Transcript {transcript_id} was created and keeps running, but waiting for it failed; "
            f"call wait_for_transcript with transcript_id={transcript_id} later",
            transcript_id=transcript_id,
            **steps,
        ) from None
    return {**_with_wait(outcome), **steps}
