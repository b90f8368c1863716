"""The one MCP server factory every transport wraps."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from aai_mcp import __version__
from aai_mcp.access.principal import LOCAL, Principal
from aai_mcp.access.principal import SCOPE_KEY as PRINCIPAL_SCOPE_KEY
from aai_mcp.catalog.prompt_specs import default_prompts_path, load_prompts
from aai_mcp.gateway import Gateway
from aai_mcp.mcp_server.apps.app_views import AppViews, is_view_uri
from aai_mcp.mcp_server.apps.capability import AppsServer
from aai_mcp.mcp_server.completions import Completions
from aai_mcp.mcp_server.dynamic_toolsets import DynamicToolsets
from aai_mcp.mcp_server.prompts import Prompts
from aai_mcp.mcp_server.reference_notes import is_notes_uri, listed_notes, read_notes
from aai_mcp.mcp_server.resources import TranscriptResources
from aai_mcp.mcp_server.speech_clips import clip_owner, is_speech_uri
from aai_mcp.mcp_server.tasks.protocol import TasksExtension, tasks_capability
from aai_mcp.redaction import redacted_model

Result = TypeVar("Result", bound=types.Result)
INSTRUCTIONS = (
    "AssemblyAI speech-to-text as tools. Transcription is asynchronous: create_transcript (or "
    "upload_file first, for local audio) returns an id with status 'queued'; the text exists only once "
    "the status is 'completed', and 'error' carries the reason. Never describe a transcript's content "
    "before it is completed. Easiest: transcribe (uploads if needed, creates the job and waits) or "
    "wait_for_transcript (waits for an id). Then ask_transcript answers questions server-side, without "
    "copying transcript text into the conversation; get_paragraphs, get_sentences, get_subtitles and "
    "search_words read it in pages. The prompts call_phases, podcast_show_notes and "
    "support_escalation_audit run whole workflows."
)


def principal_of(ctx: ServerRequestContext[Any]) -> Principal:
    """Who sent this request: set by the HTTP auth middleware; stdio and in-process callers are local."""
    request = ctx.request
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        if isinstance(principal, Principal):
            return principal
    return LOCAL


def build_server(gateway: Gateway) -> Server[Any]:
    prompts = Prompts(load_prompts(default_prompts_path()), gateway.registry)
    dynamic = DynamicToolsets(gateway.registry) if gateway.settings.dynamic_toolsets else None

    def resources_for(ctx: ServerRequestContext[Any]) -> TranscriptResources:
        return TranscriptResources(gateway, principal_of(ctx))

    def views_for(ctx: ServerRequestContext[Any]) -> AppViews:
        principal, settings = principal_of(ctx), gateway.settings
        origins = settings.viewer_media_origins
        return AppViews(gateway.registry, principal.scopes, origins, principal.id, settings.public_url)

    async def redacted(ctx: ServerRequestContext[Any], answer: Awaitable[Result]) -> Result:
        # Resources show upstream's transcripts like get_transcript does: the same keys are blanked.
        redactor = gateway.runner.redactor_for(principal_of(ctx))
        try:
            return redacted_model(await answer, redactor)
        except MCPError as exc:
            raise MCPError(exc.code, redactor.text(exc.message), redactor.value(exc.data)) from None

    def input_schema_of(name: str) -> dict[str, Any] | None:
        # 2026-07-28 clients: the SDK checks Mcp-Param-* headers against a tool's input schema before
        # every tools/call; without this lookup it runs and serializes the whole tools/list each time
        # (~38 % of a get_transcript call's CPU, bench/PROFILE.md). Scopes are still enforced by the call.
        tool = gateway.registry.definitions.get(name) or (dynamic.definitions.get(name) if dynamic else None)
        return tool.input_schema if tool is not None else None

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        scopes = principal_of(ctx).scopes
        if dynamic is not None and dynamic.applies(ctx):
            return types.ListToolsResult(tools=dynamic.listed(ctx, scopes))
        return types.ListToolsResult(tools=gateway.registry.listed(scopes))

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        if dynamic is not None and dynamic.applies(ctx) and params.name in dynamic.definitions:
            return await dynamic.call(ctx, params.name, params.arguments or {}, principal_of(ctx))
        return await gateway.runner.call(
            params.name, params.arguments, progress=ctx.session.report_progress, principal=principal_of(ctx)
        )

    async def list_resources(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        cursor = params.cursor if params else None
        page = await redacted(ctx, resources_for(ctx).page(cursor))
        if cursor is not None:
            return page
        # The notes lead the first page; later pages are transcripts only.
        notes = listed_notes(gateway.registry, principal_of(ctx).scopes)
        return page.model_copy(update={"resources": [*notes, *page.resources]})

    async def list_resource_templates(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=resources_for(ctx).templates())

    async def read_resource(
        ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        if is_view_uri(params.uri):
            return views_for(ctx).read(params.uri)
        if is_notes_uri(params.uri):
            principal = principal_of(ctx)
            return read_notes(gateway.registry, principal.scopes, principal.id)
        if is_speech_uri(params.uri):
            return await gateway.runner.clips.read(clip_owner(principal_of(ctx)), params.uri)
        return await redacted(ctx, resources_for(ctx).read(params.uri))

    async def list_prompts(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=prompts.listed(principal_of(ctx).scopes))

    async def get_prompt(
        ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        return prompts.get(params.name, params.arguments, principal_of(ctx).scopes)

    async def complete(
        ctx: ServerRequestContext[Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        return await Completions(gateway, prompts, principal_of(ctx)).complete(params)

    # Capabilities (tools, resources, prompts, completions) follow from the handlers given here.
    server = AppsServer(
        "aai-mcp",
        version=__version__,
        title="AssemblyAI MCP gateway",
        instructions=INSTRUCTIONS,
        get_tool_input_schema=input_schema_of,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
    )
    if dynamic is not None:  # before the tasks extension: its middleware runs inside this one's
        dynamic.install(server, principal_of)
    if gateway.tasks is not None:
        TasksExtension(gateway.tasks, gateway.registry, principal_of).install(server)
        server.tasks_capability = tasks_capability()
    return server
