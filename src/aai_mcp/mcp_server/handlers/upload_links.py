"""create_upload_link and wait_for_upload, and the link `transcribe` accepts in place of audio: the
MCP side of upload links (aai_mcp.uplink does the work, for the upload page as well)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aai_mcp.caller_input import ToolInputError
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.uplink.link_service import LinkUploads
from aai_mcp.upstream import UpstreamError
from aai_mcp.upstream.errors import ErrorKind

if TYPE_CHECKING:
    from aai_mcp.state.upload_link_store import UploadLink

LINK_CALLS = frozenset({"upload"})
DEFAULT_MINUTES = 30
_NOT_A_LINK = (
    "That is not an upload link this server made for you (or it was mistyped): "
    "use the url create_upload_link returned."
)


def _service(call: ToolCall) -> LinkUploads:
    links = call.links
    if links is None or links.public_url is None:
        raise ToolInputError(
            "Upload links are off on this server: it needs its public address (AAI_MCP_PUBLIC_URL, the "
            "https address people's browsers reach it at) and a store. Ask its operator, or use "
            "upload_file with a url the server can fetch."
        )
    return links


async def create_upload_link(call: ToolCall) -> dict[str, Any]:
    links = _service(call)
    if call.own_key:
        raise ToolInputError(
            "Upload links upload with a key this server holds, and you called with your own AssemblyAI "
            "key (passthrough). Use a token of this server, or upload_file."
        )
    minutes = int(call.args.get("expires_in_minutes") or DEFAULT_MINUTES)
    url, link = await links.create(call.account, minutes * 60)
    return {
        "url": url,
        "curl": f"curl -T recording.mp3 '{url}'",
        "expires_at": datetime.fromtimestamp(link.expires_at, UTC).isoformat(timespec="seconds"),
        "max_bytes": link.max_bytes,
        "next_step": "Give the url to the person (it works once; treat it like a password). Then call "
        "transcribe with upload_link set to it, or wait_for_upload to follow the upload.",
    }


async def wait_for_upload(call: ToolCall) -> dict[str, Any]:
    link, waited, timed_out = await _waited(call, str(call.args["link"]))
    answer = _state_answer(link, time.time())
    return {**answer, "waited_seconds": waited, "timed_out": timed_out}


async def upload_url_of_link(call: ToolCall, text: str) -> str:
    """The upload_url of a link's finished upload, waiting for it within the call's timeout; an error
    that says what to do when it failed, expired or is still running."""
    link, _, timed_out = await _waited(call, text)
    answer = _state_answer(link, time.time())
    if answer["state"] == "done":
        return str(answer["upload_url"])
    if timed_out:
        raise UpstreamError(
            message=f"The person has not finished uploading yet ({answer['state']}, "
            f"{answer['bytes_received']} bytes so far), so no transcript was created. Call transcribe "
            "again with the same upload_link, or wait_for_upload first.",
            kind=ErrorKind.TIMEOUT,
        )
    raise ToolInputError(f"No transcript was created: {answer['error']} {answer['next_step']}")


async def _waited(call: ToolCall, text: str) -> tuple[UploadLink, float, bool]:
    links = _service(call)
    from aai_mcp.state.upload_link_store import parse_link  # SQL-backed: loaded on first use

    credential = parse_link(text)
    link = None if credential is None else await links.find(credential)
    if link is None or link.account != call.account:
        raise ToolInputError(_NOT_A_LINK)
    started = time.monotonic()

    async def report(seen: UploadLink) -> None:
        state = seen.state(time.time())
        await call.progress(
            float(seen.bytes_received), None, f"{state}: {seen.bytes_received} bytes received"
        )

    final = await links.wait(link.link_id, _timeout(call), report) or link
    terminal = final.state(time.time()) in ("done", "failed", "expired")
    return final, round(time.monotonic() - started, 1), not terminal


def _timeout(call: ToolCall) -> float:
    asked = float(call.args.get("timeout_seconds") or call.settings.wait_default_seconds)
    return min(asked, call.settings.wait_max_seconds)


_NEXT = {
    "waiting": "The person has not started uploading: call wait_for_upload again.",
    "receiving": "The file is arriving: call wait_for_upload again.",
    "done": "Call transcribe with upload_link set to this link, or create_transcript with "
    "audio_url=upload_url.",
    "failed": "Create a new link with create_upload_link and give it to the person.",
    "expired": "Create a new link with create_upload_link and give it to the person.",
}


def _state_answer(link: UploadLink, now: float) -> dict[str, Any]:
    state = link.state(now)
    answer: dict[str, Any] = {
        "state": state,
        "bytes_received": link.bytes_received,
        "next_step": _NEXT[state],
    }
    if state == "done" and link.upload_url:
        answer["upload_url"] = link.upload_url
    if state == "failed":
        answer["error"] = link.why_failed(now)
    if state == "expired":
        answer["error"] = "The link expired before anyone uploaded through it."
    return answer
