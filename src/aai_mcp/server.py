"""The one MCP server factory every transport wraps."""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from aai_mcp import __version__
from aai_mcp.gateway import Gateway

INSTRUCTIONS = (
    "AssemblyAI speech-to-text as tools. Transcription is asynchronous: create_transcript (or "
    "upload_file first, for local audio) returns an id with status 'queued'; the text exists only once "
    "get_transcript reports status 'completed', and 'error' carries the reason. Never describe a "
    "transcript's content before it is completed. Then read it with get_paragraphs, get_sentences, "
    "get_subtitles or search_words, and ask questions with llm_chat_completion."
)


def build_server(gateway: Gateway) -> Server[Any]:
    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=gateway.registry.definitions)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        return await gateway.runner.call(params.name, params.arguments, progress=ctx.session.report_progress)

    return Server(
        "aai-mcp",
        version=__version__,
        title="AssemblyAI MCP gateway",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
