"""The contract between a tool call and the view that shapes its answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aai_mcp.catalog.model import ToolSpec


@dataclass(frozen=True)
class ViewContext:
    spec: ToolSpec
    args: dict[str, Any]
    max_chars: int
    base_url: str
    now: datetime
    transcript_url_base: str = "https://api.assemblyai.com/v2/transcript/"
    """Where a person opens a transcript: search and fetch results link to base + id."""


@dataclass(frozen=True)
class InlineAudio:
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class Shaped:
    """A view's answer. No member of an object in `structured` is None, at any depth: an unknown
    value is left out (array elements keep their places, so positions keep their meaning).

    The output schemas declare no null (a `type: [..., "null"]` union is what Gemini-style
    clients reject), and clients validate structuredContent against them, so null cannot pass.
    """

    structured: dict[str, Any]
    text: str
    failed_job: bool = False
    """The payload is a job that failed upstream (a transcript with status error): the result is an
    isError result in the tool's normal output shape. The view says so, since only it knows the shape."""
    view_data: dict[str, Any] | None = None
    """What an MCP Apps view needs beyond `structured` (a transcript's audio URL): it goes into the
    result's `_meta`, which hosts hand to the view, so structuredContent and text stay as they were."""
    audio: InlineAudio | None = None
    """Audio the result carries as an MCP audio content block, after the text (text_to_speech)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "structured", without_nulls(self.structured))


def without_nulls(value: Any) -> Any:
    """`value` with every None member of an object left out, in objects nested at any depth."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


View = Callable[[Any, ViewContext], Shaped]
