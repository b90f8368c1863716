"""What a handler gets for one tool call, and the error it raises for bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aai_mcp.catalog import ToolSpec
from aai_mcp.settings import Settings
from aai_mcp.upstream import Upstream


class ToolInputError(Exception):
    """The caller's arguments cannot be served; the message says what to change."""


@dataclass(frozen=True)
class ToolCall:
    spec: ToolSpec
    args: dict[str, Any]
    upstream: Upstream
    settings: Settings


Handler = Callable[[ToolCall], Awaitable[Any]]
