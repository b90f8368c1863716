"""Keeping the archive's upstream_deleted flag true: delete_transcript flags the archived copy of what
it deleted, and a read that upstream answers 404 flags the archived copy of what is gone. The archived
copy stays readable, marked so."""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from aai_mcp.mcp_server.runtime.forward import forward
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream.errors import UpstreamError

DELETE_CALLS = frozenset({"delete"})


async def delete_transcript(call: ToolCall) -> Any:
    """Forwarded as before; once upstream has deleted it, its archived copy is flagged."""
    result = await forward(call)
    await flag_deleted(call, str(call.args["transcript_id"]))
    return result


async def forward_noting_gone(call: ToolCall, transcript_id: str) -> Any:
    """`forward(call)`; a 404 flags the archived copy of `transcript_id` before it is raised."""
    try:
        return await forward(call)
    except UpstreamError as exc:
        if exc.status == 404:
            await flag_deleted(call, transcript_id)
        raise


async def flag_deleted(call: ToolCall, transcript_id: str) -> None:
    archive = call.archive
    if archive is not None:
        # A database write: in a worker thread, never on the event loop.
        await anyio.to_thread.run_sync(archive.mark_upstream_deleted, [transcript_id])
