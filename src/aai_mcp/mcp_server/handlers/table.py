"""Code handlers named by `handler:` in tool_schemas, for tools one forwarded request cannot serve."""

from __future__ import annotations

from aai_mcp.mcp_server.handlers.ask import ask
from aai_mcp.mcp_server.handlers.connector import fetch, search
from aai_mcp.mcp_server.handlers.uploads import upload
from aai_mcp.mcp_server.handlers.workflows import transcribe, wait_for_transcript
from aai_mcp.mcp_server.runtime.tool_call import Handler

HANDLERS: dict[str, Handler] = {
    "upload": upload,
    "wait_for_transcript": wait_for_transcript,
    "transcribe": transcribe,
    "ask": ask,
    "search": search,
    "fetch": fetch,
}
