"""The same server over stdin/stdout, for Claude Desktop and other local clients."""

from __future__ import annotations

from mcp.server.stdio import stdio_server

from aai_mcp.gateway import Gateway
from aai_mcp.mcp_server.factory import build_server


async def run_stdio(gateway: Gateway) -> None:
    server = build_server(gateway)
    try:
        async with gateway.running(), stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        await gateway.aclose()
