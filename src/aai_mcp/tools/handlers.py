"""Code handlers named by `handler:` in tool_schemas, for tools one forwarded request cannot serve."""

from __future__ import annotations

from aai_mcp.tools.call import Handler
from aai_mcp.tools.uploads import upload

HANDLERS: dict[str, Handler] = {
    "upload": upload,
}
