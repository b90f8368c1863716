"""What a token may call: method classes (effects), toolsets, tools, read-only and tags, per tool."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, field_serializer

from aai_mcp.catalog.model import Effect, ToolSpec

MethodClass = Effect
METHOD_CLASSES: tuple[MethodClass, ...] = get_args(Effect)
# The HTTP-verb classes before effects: `custom` let a "read and ask" token upload and transcribe.
# Refused, not mapped: no new class means what they meant, and a silent mapping would widen or
# narrow tokens without their owner knowing.
RETIRED_CLASSES = {
    "write": "transcription or llm (billed jobs) or upload",
    "custom": "the effects you mean: transcription, llm, upload, read or credentials",
}
T = TypeVar("T")


class UnknownMethodClass(ValueError):
    """A method class that is not an effect; the message says which names to use instead."""


def method_classes(values: Iterable[str], flag: str) -> frozenset[MethodClass]:
    """`values` as effect classes, or a one-line error naming the option and the accepted values."""
    known = ", ".join(METHOD_CLASSES)
    chosen: set[MethodClass] = set()
    for value in values:
        if value in RETIRED_CLASSES:
            raise UnknownMethodClass(
                f"{flag}: method class {value!r} was retired (classes now name effects); use "
                f"{RETIRED_CLASSES[value]}. Known: {known}"
            )
        if value not in METHOD_CLASSES:
            raise UnknownMethodClass(f"{flag}: unknown method class {value!r} (known: {known})")
        chosen.add(value)
    return frozenset(chosen)


class Scopes(BaseModel):
    """What a token allows. None on an axis means no restriction there; an empty set allows nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    methods: frozenset[MethodClass] | None = None
    toolsets: frozenset[str] | None = None
    tools: frozenset[str] | None = None
    read_only: bool = False
    tags: frozenset[str] | None = None
    """A tool is allowed when it carries at least one of these tags."""
    metrics: bool | None = None
    """True: may read /metrics (every caller's tool usage). Never implied by the other axes being open;
    None rather than False when not granted, so tokens that lack it encode as before."""
    proxy: Literal[True] | None = None
    """The team proxy (/v1/assemblyai). Granted only explicitly (`token mint --proxy`): tokens minted
    before the proxy existed lack it, and an unrestricted MCP token must not become a raw-API key."""
    admin: Literal[True] | None = None
    """The admin API (/admin/v1: issue, list and revoke tokens). Granted only by `token mint --admin`,
    whose token allows nothing else, and accepted only as a bearer, never in a URL."""

    @field_serializer("methods", "toolsets", "tools", "tags")
    def _sorted(self, value: frozenset[str] | None) -> list[str] | None:
        # Sorted so the same scopes always encode to the same token payload.
        return None if value is None else sorted(value)

    def allows(self, spec: ToolSpec) -> str | None:
        """None when `spec` may be called, else a short reason naming the scope it lacks."""
        if self.tools is not None and spec.name not in self.tools:
            return _missing("tool", spec.name)
        if self.toolsets is not None and spec.toolset not in self.toolsets:
            return _missing("toolset", spec.toolset)
        lacking = [
            effect for effect in spec.effects if self.methods is not None and effect not in self.methods
        ]
        if lacking:
            return _missing("method", lacking[0])
        if self.read_only and not spec.annotations.read_only:
            return "this token is read-only"
        if self.tags is not None and not self.tags.intersection(spec.tags):
            return _missing_tag(spec.tags, self.tags)
        return None

    def intersect(self, other: Scopes) -> Scopes:
        """What both allow: a token applied to the server's own filters can only narrow them."""
        return Scopes(
            methods=_both(self.methods, other.methods),
            toolsets=_both(self.toolsets, other.toolsets),
            tools=_both(self.tools, other.tools),
            read_only=self.read_only or other.read_only,
            tags=_both(self.tags, other.tags),
            metrics=True if self.metrics and other.metrics else None,
            proxy=True if self.proxy and other.proxy else None,
            admin=True if self.admin and other.admin else None,
        )

    def allows_proxy(self, effect: MethodClass | None = None) -> str | None:
        """None when the team proxy may be used (for a call with `effect`, when given), else why not.
        Toolsets, tools and tags name MCP tools: only methods and read-only apply to raw API calls."""
        if not self.proxy:
            return "this token's scopes do not include the team proxy (mint one with --proxy)"
        if effect is None:
            return None
        if self.methods is not None and effect not in self.methods:
            return _missing("method", effect)
        if self.read_only and effect != "read":
            return "this token is read-only"
        return None


def _both(mine: frozenset[T] | None, theirs: frozenset[T] | None) -> frozenset[T] | None:
    if mine is None:
        return theirs
    if theirs is None:
        return mine
    return mine & theirs


def _missing(axis: str, value: str) -> str:
    return f"this token's scopes do not include {axis} {value!r}"


def _missing_tag(tool_tags: list[str], allowed: frozenset[str]) -> str:
    if not tool_tags:
        listed = ", ".join(repr(tag) for tag in sorted(allowed))
        return f"this token's scopes include only tools tagged {listed}; this tool has no tags"
    if len(tool_tags) == 1:
        return _missing("tag", tool_tags[0])
    return "this token's scopes do not include any of the tags " + ", ".join(repr(t) for t in tool_tags)
