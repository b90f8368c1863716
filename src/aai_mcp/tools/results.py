"""CallToolResult construction: text plus structuredContent, errors with isError, simulation marked."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from aai_mcp.tools.view_types import Shaped
from aai_mcp.upstream import UpstreamError

SIMULATED_BANNER = (
    "[SIMULATED] No ASSEMBLYAI_API_KEY is set: this result comes from aai-mcp's built-in AssemblyAI "
    "simulator, not from AssemblyAI."
)
META_SIMULATED = "aai-mcp/simulated"
META_RATE_LIMIT = "aai-mcp/rate_limit"
RETRYABLE_REFUSALS = ("too_many_calls", "shutting_down")


def _meta(simulated: bool, extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
    meta: dict[str, Any] = dict(extra or {})
    if simulated:
        meta[META_SIMULATED] = True
    return meta or None


def _text(text: str, simulated: bool) -> list[types.ContentBlock]:
    body = f"{SIMULATED_BANNER}\n{text}" if simulated else text
    return [types.TextContent(text=body)]


def success(
    shaped: Shaped, *, simulated: bool, is_error: bool = False, plain_text: bool = False
) -> types.CallToolResult:
    """`plain_text`: the text must stay exactly as shaped (a connector contract), so no banner line."""
    return types.CallToolResult(
        content=_text(shaped.text, simulated and not plain_text),
        structured_content=shaped.structured,
        is_error=is_error,
        _meta=_meta(simulated),
    )


def input_error(message: str, *, simulated: bool) -> types.CallToolResult:
    return refused(message, "invalid_arguments", simulated=simulated)


def refused(message: str, kind: str, *, simulated: bool) -> types.CallToolResult:
    """A call the gateway itself declines (bad arguments, missing scope, too many at once)."""
    structured = {"error": {"message": message, "kind": kind, "retryable": kind in RETRYABLE_REFUSALS}}
    return types.CallToolResult(
        content=_text(message, simulated),
        structured_content=structured,
        is_error=True,
        _meta=_meta(simulated),
    )


def upstream_error(error: UpstreamError, *, simulated: bool) -> types.CallToolResult:
    details = error.as_dict()
    lines = [error.message]
    if error.rate_limit:
        lines.append("Rate limit: " + json.dumps(error.rate_limit, sort_keys=True))
    extra = {META_RATE_LIMIT: error.rate_limit} if error.rate_limit else None
    return types.CallToolResult(
        content=_text("\n".join(lines), simulated),
        structured_content={"error": details},
        is_error=True,
        _meta=_meta(simulated, extra),
    )
