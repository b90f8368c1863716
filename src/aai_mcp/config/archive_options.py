"""The options of `aai-mcp archive ...` beyond the store and upstream settings (`Settings`)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from aai_mcp.config.command_options import CommandOptions


class BackfillOptions(CommandOptions):
    """`aai-mcp archive backfill`: which transcripts, what to fetch with each, how fast."""

    ENV_PREFIX: ClassVar[str | None] = "AAI_MCP_ARCHIVE_"
    FILE_SECTION: ClassVar[str | None] = "archive"

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
    refresh: bool = Field(False, description="Fetch and store again transcripts the archive already holds.")

    @model_validator(mode="after")
    def _days_in_order(self) -> Self:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("--since must not be after --until")
        return self
