"""CallToolResult construction: text plus structuredContent, errors with isError, simulation marked.

Error results carry no structuredContent. TypeScript-SDK clients (Claude Desktop, MCP Inspector and
other hosts built on `@modelcontextprotocol/sdk`) validate structuredContent against the tool's
outputSchema even when isError is true, and no outputSchema here declares an error shape, so an error
object there turns every tool error into a client-side exception nobody reads. The machine-readable
details go into `_meta["aai-mcp/error"]` instead; the text states the same key facts for the model.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import mcp_types as types
import orjson

from aai_mcp.mcp_server.views.contract import Shaped
from aai_mcp.redaction import Redactor
from aai_mcp.upstream import UpstreamError
from aai_mcp.upstream.errors import ErrorKind

SIMULATED_BANNER = (
    "[SIMULATED] No ASSEMBLYAI_API_KEY is set: this result comes from aai-mcp's built-in AssemblyAI "
    "simulator, not from AssemblyAI."
)
META_SIMULATED = "aai-mcp/simulated"
META_RATE_LIMIT = "aai-mcp/rate_limit"
META_ERROR = "aai-mcp/error"
META_VIEW = "aai-mcp/view"
"""What an MCP Apps view needs beyond structuredContent (Shaped.view_data)."""
INTERNAL_MESSAGE = (
    "The gateway failed while running this tool (an internal error, logged on the server without "
    "your arguments). Nothing more is known about whether it reached AssemblyAI."
)
# Every error message is cut here, whatever produced it: an error must never grow with an argument.
MESSAGE_CHARS = 2000
# The work a multi-step tool had done when it failed: repeated in the text so no billed job is lost.
STEP_KEYS = ("transcript_id", "upload_url")


def _meta(simulated: bool, extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
    meta: dict[str, Any] = dict(extra or {})
    if simulated:
        meta[META_SIMULATED] = True
    return meta or None


def _text(text: str, simulated: bool) -> list[types.ContentBlock]:
    body = f"{SIMULATED_BANNER}\n{text}" if simulated else text
    return [types.TextContent(text=body)]


def success(shaped: Shaped, *, simulated: bool, plain_text: bool = False) -> types.CallToolResult:
    """A tool's answer in its declared output shape (also a failed job, which its view marks: isError).
    `plain_text`: the text must stay exactly as shaped (a connector contract), so no banner line."""
    content = _text(shaped.text, simulated and not plain_text)
    if shaped.audio is not None:
        data = base64.b64encode(shaped.audio.data).decode("ascii")
        content.append(types.AudioContent(data=data, mime_type=shaped.audio.mime_type))
    return types.CallToolResult(
        content=content,
        structured_content=shaped.structured,
        is_error=shaped.failed_job,
        _meta=_meta(simulated, {META_VIEW: shaped.view_data} if shaped.view_data else None),
    )


def input_error(message: str, *, simulated: bool) -> types.CallToolResult:
    return refused(message, ErrorKind.INVALID_ARGUMENTS, simulated=simulated)


def refused(message: str, kind: ErrorKind, *, simulated: bool) -> types.CallToolResult:
    """A call the gateway itself declines (bad arguments, missing scope, too many at once)."""
    return error({"message": message, "kind": kind.value, "retryable": kind.retryable}, simulated)


def error_kind(result: types.CallToolResult) -> str | None:
    """The kind an error result carries in `_meta` (None: a success, or a failed job's answer)."""
    details = (result.meta or {}).get(META_ERROR)
    kind = details.get("kind") if isinstance(details, dict) else None
    return kind if isinstance(kind, str) else None


def internal_error(*, simulated: bool) -> types.CallToolResult:
    """A bug: the model learns only that it happened, never the exception text."""
    kind = ErrorKind.INTERNAL
    return error({"message": INTERNAL_MESSAGE, "kind": kind.value, "retryable": kind.retryable}, simulated)


def upstream_error(exc: UpstreamError, *, simulated: bool) -> types.CallToolResult:
    rate_limit = {META_RATE_LIMIT: exc.rate_limit} if exc.rate_limit else None
    return error(exc.as_dict(), simulated, rate_limit)


def error(
    details: dict[str, Any], simulated: bool, extra: dict[str, Any] | None = None
) -> types.CallToolResult:
    """The one shape of every error result: readable text, details in `_meta`, no structuredContent."""
    message = str(details["message"])
    if len(message) > MESSAGE_CHARS:
        details = {**details, "message": message[:MESSAGE_CHARS] + "…"}
    return types.CallToolResult(
        content=_text(error_text(details), simulated),
        is_error=True,
        _meta=_meta(simulated, {META_ERROR: details, **(extra or {})}),
    )


def error_text(details: dict[str, Any]) -> str:
    """The message, then the facts a model acts on: status, whether to retry and when, what exists."""
    facts = [f"kind: {details['kind']}"]
    if details.get("status") is not None:
        facts.append(f"HTTP status: {details['status']}")
    facts.append("retryable: " + ("yes" if details.get("retryable") else "no"))
    if details.get("retry_after_seconds") is not None:
        facts.append(f"retry after: {details['retry_after_seconds']} s")
    limits = [f"{key}={details[key]}" for key in sorted(details) if key.startswith("ratelimit-")]
    if limits:
        facts.append("rate limit: " + ", ".join(limits))
    facts += [f"{key}: {details[key]}" for key in STEP_KEYS if details.get(key)]
    return f"{details['message']}\n({'; '.join(facts)})"


def redacted(result: types.CallToolResult, redactor: Redactor) -> types.CallToolResult:
    """`result` with every key `redactor` knows blanked out of its text, structuredContent and _meta
    (an upstream may echo a key back in a 200 body as well as in an error)."""
    if not redactor or not redactor.spans(_searchable(result)):
        return result
    content = [
        block.model_copy(update={"text": redactor.text(block.text)})
        if isinstance(block, types.TextContent)
        else block
        for block in result.content
    ]
    return result.model_copy(
        update={
            "content": content,
            "structured_content": redactor.value(result.structured_content),
            "meta": redactor.value(result.meta),
        }
    )


def _searchable(result: types.CallToolResult) -> str:
    # One string to scan: a clean result (nearly all of them) costs one pass and no copy.
    texts = [block.text for block in result.content if isinstance(block, types.TextContent)]
    for value in (result.structured_content, result.meta):
        if value is not None:
            texts.append(_dumps(value))
    return "\n".join(texts)


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # an integer beyond 64 bits (orjson's limit); the standard encoder has none
        return json.dumps(value, default=str)
