"""The options of `aai-mcp archive extract` beyond the store, upstream and LLM settings (`Settings`)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from aai_mcp.config.command_options import CommandOptions
from aai_mcp.config.marker import ARGUMENT


class ExtractOptions(CommandOptions):
    """`aai-mcp archive extract --kit K`: which kit, which model, how much at once, how fast."""

    ENV_PREFIX: ClassVar[str | None] = "AAI_MCP_ARCHIVE_"
    FILE_SECTION: ClassVar[str | None] = "archive"

    kit: Annotated[str, ARGUMENT] = Field(
        description="The extraction kit to run, e.g. support-call-qa or sales-call (or one of "
        "AAI_MCP_EXTRACTION_KITS_DIR)."
    )
    model: Annotated[str | None, ARGUMENT] = Field(
        None, description="LLM Gateway model id. Default: the server's llm_default_model."
    )
    refresh: Annotated[bool, ARGUMENT] = Field(
        False, description="Run again over transcripts whose stored result is still current."
    )
    concurrency: int = Field(4, ge=1, le=32, description="Transcripts extracted at once.")
    max_per_second: float = Field(
        20.0, gt=0, le=1000, description="Upstream calls per second at most (429s are waited out besides)."
    )
