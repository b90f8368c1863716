"""Typed model of tool_schemas/prompts.yaml, loaded strictly once: fail fast and say where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aai_mcp.catalog.loader import PROMPTS_FILE, CatalogError, brief, default_schema_dir
from aai_mcp.catalog.model import MAX_NAME_LENGTH, NAME_PATTERN
from aai_mcp.catalog.yaml_loader import load_yaml

AudioSource = Literal["audio_url", "transcript_id"]
AUDIO_SOURCES: tuple[AudioSource, ...] = ("audio_url", "transcript_id")
AskContext = Literal["text", "sentences", "paragraphs", "utterances", "vtt"]

# What the server fills into `steps` (tool-call arguments as JSON), and what each variant must use.
STEP_FIELDS: dict[AudioSource, frozenset[str]] = {
    "audio_url": frozenset({"transcribe_args", "wait_args", "ask_args"}),
    "transcript_id": frozenset({"wait_args", "ask_args"}),
}
REQUIRED_STEP_FIELDS: dict[AudioSource, frozenset[str]] = {
    "audio_url": frozenset({"transcribe_args", "ask_args"}),
    "transcript_id": frozenset({"ask_args"}),
}
PROMPT_TEMPLATES = ("goal", "ask", "answer")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptArgument(Strict):
    """A prompt's own argument; every one is required (the audio arguments are shared, below)."""

    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)
    description: str = Field(min_length=1)


class AudioArguments(Strict):
    """Descriptions of the two ways every prompt takes its audio; a caller gives exactly one."""

    audio_url: str = Field(min_length=1)
    transcript_id: str = Field(min_length=1)


class Steps(Strict):
    """The tool calls every prompt makes, one variant per audio source."""

    audio_url: str = Field(min_length=1)
    transcript_id: str = Field(min_length=1)


class PromptSpec(Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    arguments: list[PromptArgument] = []
    context: AskContext
    """The `context` ask_transcript gets: what part of the transcript the LLM sees."""
    max_tokens: int | None = Field(None, ge=1)
    """ask_transcript's max_tokens when its default (1000) is too short for the answer."""
    goal: str = Field(min_length=1)
    """Opens the message: what the user wants."""
    ask: str = Field(min_length=1)
    """The exact `prompt` given to ask_transcript (it becomes a JSON string, so it is escaped)."""
    answer: str = Field(min_length=1)
    """Closes the message: how to present ask_transcript's answer."""


class PromptsFile(Strict):
    audio: AudioArguments
    steps: Steps
    prompts: list[dict[str, Any]] = Field(min_length=1)
    """Validated one by one, so an error names the prompt."""


@dataclass(frozen=True)
class PromptCatalog:
    audio: AudioArguments
    steps: Steps
    prompts: dict[str, PromptSpec]


def default_prompts_path() -> Path:
    return default_schema_dir() / PROMPTS_FILE


def load_prompts(path: Path) -> PromptCatalog:
    """Every prompt in `path`, checked; raises CatalogError naming the file and the prompt."""
    data = _validated(path)
    for source in AUDIO_SOURCES:
        _check_steps(f"{path.name}: steps.{source}", getattr(data.steps, source), source)
    prompts: dict[str, PromptSpec] = {}
    for index, entry in enumerate(data.prompts):
        where = f"{path.name}: prompt {index} ({entry.get('name', '?')})"
        try:
            spec = PromptSpec.model_validate(entry)
        except ValidationError as exc:
            raise CatalogError(f"{where}: {brief(exc)}") from exc
        if spec.name in prompts:
            raise CatalogError(f"{where}: duplicate prompt name")
        _check_prompt(where, spec)
        prompts[spec.name] = spec
    return PromptCatalog(audio=data.audio, steps=data.steps, prompts=prompts)


def placeholders(where: str, text: str) -> set[str]:
    template = Template(text)
    if not template.is_valid():
        raise CatalogError(f"{where}: a '$' that is not a ${{name}} placeholder (write $$ for a literal $)")
    return set(template.get_identifiers())


def _validated(path: Path) -> PromptsFile:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"{path.name}: file is missing") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path.name}: not valid YAML: {exc}") from exc
    try:
        return PromptsFile.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"{path.name}: {brief(exc)}") from exc


def _check_steps(where: str, text: str, source: AudioSource) -> None:
    used = placeholders(where, text)
    unknown = used - STEP_FIELDS[source]
    if unknown:
        raise CatalogError(
            f"{where}: unknown placeholders {sorted(unknown)} (known: {sorted(STEP_FIELDS[source])})"
        )
    missing = REQUIRED_STEP_FIELDS[source] - used
    if missing:
        raise CatalogError(f"{where}: must use {sorted(missing)}")


def _check_prompt(where: str, spec: PromptSpec) -> None:
    declared: set[str] = set()
    for argument in spec.arguments:
        if argument.name in declared:
            raise CatalogError(f"{where}: duplicate argument {argument.name!r}")
        if argument.name in AUDIO_SOURCES:
            raise CatalogError(f"{where}: argument {argument.name!r} is shared by every prompt (see `audio`)")
        declared.add(argument.name)
    used: set[str] = set()
    for field in PROMPT_TEMPLATES:
        found = placeholders(f"{where}: {field}", getattr(spec, field))
        undeclared = found - declared
        if undeclared:
            raise CatalogError(
                f"{where}: {field}: placeholders {sorted(undeclared)} are not declared arguments "
                f"(declared: {sorted(declared)})"
            )
        used |= found
    unused = declared - used
    if unused:
        raise CatalogError(f"{where}: arguments {sorted(unused)} are declared but no template uses them")
