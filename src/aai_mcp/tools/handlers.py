"""Code handlers named by `handler:` in tool_schemas, for tools one forwarded request cannot serve."""

from __future__ import annotations

from aai_mcp.tools.ask import ask
from aai_mcp.tools.call import Handler
from aai_mcp.tools.connector import fetch, search
from aai_mcp.tools.uploads import upload
from aai_mcp.tools.workflows import transcribe, wait_for_transcript

HANDLERS: dict[str, Handler] = {
    "upload": upload,
    "wait_for_transcript": wait_for_transcript,
    "transcribe": transcribe,
    "ask": ask,
    "search": search,
    "fetch": fetch,
}
