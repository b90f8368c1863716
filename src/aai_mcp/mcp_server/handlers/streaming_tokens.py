"""create_streaming_token: the session's connection parameters checked before a token is minted (a
token is single use: a URL upstream would refuse wastes it), then the token request forwarded."""

from __future__ import annotations

from typing import Any

from aai_mcp.caller_input import ToolInputError
from aai_mcp.mcp_server.runtime.forward import forward
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream.streaming_query import StreamParamError, query_string

STREAMING_TOKEN_CALLS = frozenset({"token"})


def connection_query(args: dict[str, Any]) -> str:
    """The `connection` argument as the session URL's query (empty without one)."""
    try:
        return query_string(args.get("connection") or {})
    except StreamParamError as exc:
        raise ToolInputError(f"Invalid connection parameter: {exc}.") from None


async def streaming_token(call: ToolCall) -> Any:
    connection_query(call.args)
    return await forward(call)
