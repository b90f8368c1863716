"""The options of `aai-mcp archive deliver | redeliver | export` beyond the store and delivery settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from aai_mcp.config.command_options import CommandOptions
from aai_mcp.config.marker import Option


class DeliverOptions(CommandOptions):
    """`aai-mcp archive deliver`: run the delivery worker."""

    drain: Annotated[bool, Option(env=None, file=False)] = Field(
        False,
        description="Deliver what is pending (waiting out retries) and exit once each row is delivered or "
        "dead. Unset: keep delivering until Ctrl-C.",
    )


class RedeliverOptions(CommandOptions):
    """`aai-mcp archive redeliver`: replay dead letters."""

    all: Annotated[bool, Option(env=None, file=False)] = Field(False, description="Replay every dead letter.")
    id: Annotated[str | None, Option(env=None, file=False)] = Field(
        None, description="Replay the dead letters of these event ids (evt_..., comma-separated)."
    )

    @model_validator(mode="after")
    def _one_choice(self) -> Self:
        if self.all and self.id:
            raise ValueError("give --all or --id, not both")
        return self

    @property
    def event_ids(self) -> list[str] | None:
        """The ids to replay; None for all."""
        return None if self.all else [part.strip() for part in (self.id or "").split(",") if part.strip()]


class ExportOptions(CommandOptions):
    """`aai-mcp archive export`: the archive as rows, streamed."""

    format: Annotated[Literal["jsonl", "csv", "parquet"], Option(env=None, file=False)] = Field(
        "jsonl", description="jsonl (one JSON object a line), csv, or parquet (needs the parquet extra)."
    )
    rows: Annotated[Literal["transcripts", "utterances", "fields"], Option(env=None, file=False)] = Field(
        "transcripts",
        description="One row per transcript, per utterance (speaker turn), or per extracted field.",
    )
    out: Annotated[Path | None, Option(env=None, file=False)] = Field(
        None, description="Write to this file (replaced once complete). Unset: standard output."
    )
    account: Annotated[str | None, Option(env=None, file=False)] = Field(
        None, description="Export this account's transcripts only. Unset: every account's."
    )
