"""prompts/list and prompts/get: tool_schemas/prompts.yaml filled with the caller's arguments."""

from __future__ import annotations

import json
from collections.abc import Mapping
from string import Template
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from aai_mcp.access.scopes import Scopes
from aai_mcp.caller_input import quoted
from aai_mcp.catalog.prompt_specs import AUDIO_SOURCES, AudioSource, PromptCatalog, PromptSpec, placeholders
from aai_mcp.mcp_server.registry import Registry
from aai_mcp.mcp_server.resources import TRANSCRIPT_ID

# Stands for the id that step 1 returns, where the prompt cannot know it yet.
ID_FROM_STEP_1 = "<the id from step 1>"
# The tool each `steps` placeholder tells the model to call: a prompt is offered only to callers
# who may call every tool its steps name (the same check as tools/call).
STEP_TOOLS = {
    "transcribe_args": "transcribe",
    "wait_args": "wait_for_transcript",
    "ask_args": "ask_transcript",
}


# Every prompt's optional LLM choice, passed to ask_transcript (which checks it against the gateway's list).
MODEL_ARGUMENT = "model"
MODEL_DESCRIPTION = (
    "LLM Gateway model for the answer, e.g. claude-sonnet-4-6; the server's default when left out."
)


class Prompts:
    """The prompt catalog as MCP prompts; rendering refuses missing, unknown or ambiguous arguments."""

    def __init__(self, catalog: PromptCatalog, registry: Registry) -> None:
        self.catalog = catalog
        self.registry = registry
        self.definitions = [self._definition(spec) for spec in catalog.prompts.values()]
        self.needs: dict[AudioSource, list[str]] = {
            source: sorted(
                STEP_TOOLS[field] for field in placeholders("steps", getattr(catalog.steps, source))
            )
            for source in AUDIO_SOURCES
        }

    def usable_sources(self, scopes: Scopes | None) -> list[AudioSource]:
        """The audio sources whose steps call only tools a caller with `scopes` may use."""
        return [
            source
            for source in AUDIO_SOURCES
            if all(self.registry.visible(tool, scopes) is not None for tool in self.needs[source])
        ]

    def listed(self, scopes: Scopes | None) -> list[types.Prompt]:
        return self.definitions if self.usable_sources(scopes) else []

    def _definition(self, spec: PromptSpec) -> types.Prompt:
        audio = [
            types.PromptArgument(name=source, description=getattr(self.catalog.audio, source), required=False)
            for source in AUDIO_SOURCES
        ]
        model = types.PromptArgument(name=MODEL_ARGUMENT, description=MODEL_DESCRIPTION, required=False)
        own = [
            types.PromptArgument(name=arg.name, description=arg.description, required=True)
            for arg in spec.arguments
        ]
        return types.Prompt(
            name=spec.name, title=spec.title, description=spec.description, arguments=[*audio, model, *own]
        )

    def get(
        self, name: str, arguments: Mapping[str, str] | None, scopes: Scopes | None = None
    ) -> types.GetPromptResult:
        usable = self.usable_sources(scopes)
        spec = self.catalog.prompts.get(name) if usable else None
        if spec is None:
            offered = ", ".join(self.catalog.prompts) if usable else "none for this caller"
            raise MCPError(INVALID_PARAMS, f"Unknown prompt {quoted(name)}. Prompts: {offered}.")
        # Clients often send an empty string for an argument the user left blank.
        given = {key: value.strip() for key, value in (arguments or {}).items() if value.strip()}
        source = self._check(spec, given)
        if source not in usable:
            raise MCPError(
                INVALID_PARAMS,
                f"Prompt {name} with {source} calls {', '.join(self.needs[source])}, and this caller may not "
                f"use all of them; give {usable[0]} instead.",
            )
        values = {arg.name: given[arg.name] for arg in spec.arguments}
        steps = Template(getattr(self.catalog.steps, source)).substitute(
            _step_fields(spec, given, Template(spec.ask).substitute(values))
        )
        text = "\n\n".join(
            [Template(spec.goal).substitute(values), steps, Template(spec.answer).substitute(values)]
        )
        return types.GetPromptResult(
            description=spec.description,
            messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))],
        )

    def _check(self, spec: PromptSpec, given: Mapping[str, str]) -> AudioSource:
        takes = [*AUDIO_SOURCES, MODEL_ARGUMENT, *(arg.name for arg in spec.arguments)]
        unknown = sorted(set(given) - set(takes))
        if unknown:
            raise MCPError(
                INVALID_PARAMS, f"Prompt {spec.name} has no arguments {_names(unknown)}; it takes {takes}."
            )
        missing = [arg for arg in spec.arguments if arg.name not in given]
        if missing:
            needed = "; ".join(f"{arg.name}: {arg.description}" for arg in missing)
            raise MCPError(INVALID_PARAMS, f"Prompt {spec.name} needs the argument(s) {needed}")
        sources = [source for source in AUDIO_SOURCES if source in given]
        if len(sources) != 1:
            problem = "both were" if sources else "neither was"
            raise MCPError(
                INVALID_PARAMS,
                f"Prompt {spec.name} needs exactly one of audio_url (the recording's URL) or transcript_id "
                f"(an existing transcript); {problem} given.",
            )
        if "transcript_id" in given and not TRANSCRIPT_ID.match(given["transcript_id"]):
            raise MCPError(
                INVALID_PARAMS,
                f"transcript_id {quoted(given['transcript_id'])} is not a transcript id (A-Z a-z 0-9 _ -).",
            )
        return sources[0]


def _names(names: list[str], shown: int = 5) -> str:
    more = [f"... {len(names) - shown} more"] if len(names) > shown else []
    return "[" + ", ".join([*(quoted(name) for name in names[:shown]), *more]) + "]"


def _step_fields(spec: PromptSpec, given: Mapping[str, str], ask: str) -> dict[str, str]:
    transcript_id = given.get("transcript_id", ID_FROM_STEP_1)
    ask_args: dict[str, Any] = {"transcript_ids": [transcript_id], "context": spec.context, "prompt": ask}
    if spec.max_tokens is not None:
        ask_args["max_tokens"] = spec.max_tokens
    if MODEL_ARGUMENT in given:
        ask_args["model"] = given[MODEL_ARGUMENT]
    # include=[]: ask_transcript reads the transcript itself, so the text in between would only cost tokens.
    transcribe_args: dict[str, Any] = {
        "audio_url": given.get("audio_url"),
        "speaker_labels": True,
        "include": [],
    }
    return {
        "transcribe_args": _args(transcribe_args),
        "wait_args": _args({"transcript_id": transcript_id, "include": []}),
        "ask_args": _args(ask_args),
    }


def _args(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, ensure_ascii=False)
