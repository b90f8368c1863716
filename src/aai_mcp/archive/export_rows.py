"""What `aai-mcp archive export` writes: rows from the archive, in batches, so memory stays the same
whatever the archive's size. Each batch is its own query, keyset-paged on the archive's `seq` (no
cursor held open across batches, the same on SQLite and PostgreSQL), reading only the columns a row
needs (never the words, the bulk of a transcript).

A row source is a name, typed columns, and batches. `transcripts` and `utterances` read the archive;
more (extracted fields) plug in through ROW_SOURCES.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from aai_mcp.state.store_schema import archived_transcripts

ColumnKind = Literal["string", "int", "float", "bool"]
Row = dict[str, Any]
BATCH_TRANSCRIPTS = 200


@dataclass(frozen=True)
class RowSource:
    """Rows of one kind: their columns (name, kind) and a reader of batches."""

    name: str
    columns: tuple[tuple[str, ColumnKind], ...]
    batches: Callable[[sa.Engine, str | None], Iterator[list[Row]]]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _archive_pages(
    engine: sa.Engine, account: str | None, *columns: sa.ColumnElement[Any]
) -> Iterator[list[Any]]:
    """The archive's rows in `seq` order, BATCH_TRANSCRIPTS at a time, with `columns`."""
    table, after = archived_transcripts, 0
    while True:
        query = sa.select(table.c.seq, *columns).where(table.c.seq > after)
        if account is not None:
            query = query.where(table.c.account == account)
        with engine.connect() as connection:
            page = list(connection.execute(query.order_by(table.c.seq).limit(BATCH_TRANSCRIPTS)))
        if not page:
            return
        yield page
        after = page[-1].seq


_TRANSCRIPT_COLUMNS: tuple[tuple[str, ColumnKind], ...] = (
    ("transcript_id", "string"), ("account", "string"), ("status", "string"), ("created_at", "string"),
    ("completed_at", "string"), ("audio_duration", "int"), ("language_code", "string"),
    ("speech_model", "string"), ("audio_hash", "string"), ("upstream_deleted", "bool"),
    ("speakers", "int"), ("utterances", "int"), ("text", "string"),
)  # fmt: skip


def _transcript_batches(engine: sa.Engine, account: str | None) -> Iterator[list[Row]]:
    t = archived_transcripts.c
    wanted = (
        t.transcript_id, t.account, t.status, t.created_at, t.completed_at, t.audio_duration,
        t.language_code, t.speech_model, t.audio_hash, t.upstream_deleted, t.utterances, t.text,
    )  # fmt: skip
    for page in _archive_pages(engine, account, *wanted):
        yield [_transcript_row(found) for found in page]


def _transcript_row(found: Any) -> Row:
    utterances = found.utterances or []
    return {
        "transcript_id": found.transcript_id, "account": found.account, "status": found.status,
        "created_at": _iso(found.created_at), "completed_at": _iso(found.completed_at),
        "audio_duration": found.audio_duration, "language_code": found.language_code,
        "speech_model": found.speech_model, "audio_hash": found.audio_hash,
        "upstream_deleted": bool(found.upstream_deleted),
        "speakers": len({u.get("speaker") for u in utterances}), "utterances": len(utterances),
        "text": found.text,
    }  # fmt: skip


_UTTERANCE_COLUMNS: tuple[tuple[str, ColumnKind], ...] = (
    ("transcript_id", "string"), ("account", "string"), ("index", "int"), ("speaker", "string"),
    ("start_ms", "int"), ("end_ms", "int"), ("confidence", "float"), ("text", "string"),
)  # fmt: skip


def _utterance_batches(engine: sa.Engine, account: str | None) -> Iterator[list[Row]]:
    t = archived_transcripts.c
    for page in _archive_pages(engine, account, t.transcript_id, t.account, t.utterances):
        rows = [_utterance_row(found, n, u) for found in page for n, u in enumerate(found.utterances or [])]
        if rows:
            yield rows


def _utterance_row(found: Any, index: int, utterance: dict[str, Any]) -> Row:
    return {
        "transcript_id": found.transcript_id, "account": found.account, "index": index,
        "speaker": utterance.get("speaker"), "start_ms": utterance.get("start"),
        "end_ms": utterance.get("end"), "confidence": utterance.get("confidence"),
        "text": utterance.get("text"),
    }  # fmt: skip


ROW_SOURCES: dict[str, RowSource] = {
    "transcripts": RowSource("transcripts", _TRANSCRIPT_COLUMNS, _transcript_batches),
    "utterances": RowSource("utterances", _UTTERANCE_COLUMNS, _utterance_batches),
}
