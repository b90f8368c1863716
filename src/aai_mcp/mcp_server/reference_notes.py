"""The project's notes on AssemblyAI's integration rules as an MCP resource, beside the reference tools.

Readable by whoever may call get_api_reference (the same check as tools/call): a token whose toolsets
or methods leave the reference out sees neither the tools nor this resource."""

from __future__ import annotations

import logging

import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from aai_mcp.access.scopes import Scopes
from aai_mcp.api_reference import notes_text
from aai_mcp.mcp_server.registry import Registry
from aai_mcp.mcp_server.resources import refused

audit = logging.getLogger("aai_mcp.audit")

NOTES_URI = "assemblyai://reference/notes"
NOTES_TOOL = "get_api_reference"
NOTES_RESOURCE = types.Resource(
    uri=NOTES_URI,
    name="assemblyai_reference_notes",
    title="AssemblyAI integration rules",
    description=(
        "The rules integrators trip on, each with its source: raw key vs Bearer per host, speech_models "
        "required, deprecated parameters and their LLM Gateway replacements, terminating streaming "
        "sessions, temporary tokens for browsers."
    ),
    mime_type="text/markdown",
)


def is_notes_uri(uri: str) -> bool:
    return uri == NOTES_URI


def listed_notes(registry: Registry, scopes: Scopes | None) -> list[types.Resource]:
    return [NOTES_RESOURCE] if registry.visible(NOTES_TOOL, scopes) is not None else []


def read_notes(registry: Registry, scopes: Scopes | None, caller: str) -> types.ReadResourceResult:
    if registry.visible(NOTES_TOOL, scopes) is None:
        refused(caller, NOTES_RESOURCE.name)
        # Unknown to a caller who may not read it, like a transcript part it lacks permission for.
        raise MCPError(INVALID_PARAMS, f"Unknown resource URI {NOTES_URI!r}.")
    # The same line as a transcript read's, so one parser reads every resource access.
    audit.info(
        "token=%s resource=%s outcome=ok upstream_status=None duration_ms=0", caller, NOTES_RESOURCE.name
    )
    text = notes_text()
    return types.ReadResourceResult(
        contents=[types.TextResourceContents(uri=NOTES_URI, mime_type="text/markdown", text=text)]
    )
