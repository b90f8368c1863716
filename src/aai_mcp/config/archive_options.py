"""The options of `aai-mcp archive ...` beyond the store and upstream settings (`Settings`)."""

from __future__ import annotations

import re
from datetime import date
from typing import ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from aai_mcp.config.command_options import CommandOptions

_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_UNIT_SECONDS = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0}


def interval_seconds(text: str) -> float:
    """`1h`, `15m`, `30s`, `1h30m`, `1d` -> seconds; ValueError for anything else or zero."""
    compact = text.strip().lower()
    parts = _PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"not a duration like 30s, 15m, 1h or 1h30m: {text!r}")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError("the interval must be more than 0")
    return seconds


class CaptureOptions(CommandOptions):
    """What backfill and sync share: what to fetch with each transcript, how much at once, how fast."""

    ENV_PREFIX: ClassVar[str | None] = "AAI_MCP_ARCHIVE_"
    FILE_SECTION: ClassVar[str | None] = "archive"

    sentences: bool = Field(False, description="Also fetch and store each transcript's sentences.")
    paragraphs: bool = Field(False, description="Also fetch and store each transcript's paragraphs.")
    subtitles: bool = Field(
        False, description="Also fetch and store each transcript's SRT and VTT subtitles."
    )
    page_size: int = Field(100, ge=1, le=200, description="Transcripts per list page.")
    concurrency: int = Field(4, ge=1, le=32, description="Transcripts fetched at once.")
    max_per_second: float = Field(
        20.0, gt=0, le=1000, description="Upstream calls per second at most (429s are waited out besides)."
    )


class SyncOptions(CaptureOptions):
    """`aai-mcp archive sync`: one round, or one every interval."""

    every: str | None = Field(
        None,
        description="Run a round every interval (30s, 15m, 1h, 1h30m) until Ctrl-C. Unset: one round.",
    )

    @field_validator("every")
    @classmethod
    def _an_interval(cls, value: str | None) -> str | None:
        if value is not None:
            interval_seconds(value)
        return value

    @property
    def every_seconds(self) -> float | None:
        return None if self.every is None else interval_seconds(self.every)


class BackfillOptions(CaptureOptions):
    """`aai-mcp archive backfill`: which transcripts, what to fetch with each, how fast."""

    status: Literal["completed", "error"] = Field(
        "completed", description="Archive transcripts with this status (error: the failure is kept)."
    )
    since: date | None = Field(
        None, description="Only transcripts created on or after this day (YYYY-MM-DD, UTC)."
    )
    until: date | None = Field(
        None, description="Only transcripts created on or before this day (YYYY-MM-DD, UTC)."
    )
    after_id: str | None = Field(
        None, description="Only transcripts created after this one (the list's after_id)."
    )
    before_id: str | None = Field(
        None, description="Only transcripts created before this one (the list's before_id)."
    )
    refresh: bool = Field(False, description="Fetch and store again transcripts the archive already holds.")

    @model_validator(mode="after")
    def _days_in_order(self) -> Self:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("--since must not be after --until")
        return self
