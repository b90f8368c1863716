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


@dataclass(frozen=True)
class Shaped:
    structured: dict[str, Any]
    text: str


View = Callable[[Any, ViewContext], Shaped]
