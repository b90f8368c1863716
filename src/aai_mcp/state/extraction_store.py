"""Stored extraction results (migration 0008): one per kit, transcript and account, replaced when the
kit or the transcript's text changed (the digests say which)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from aai_mcp.state.store_schema import archived_transcripts, extraction_results

_KEY = ("kit", "transcript_id", "account")


@dataclass(frozen=True)
class StoredExtraction:
    kit: str
    transcript_id: str
    account: str
    kit_digest: str
    text_digest: str
    model: str
    fields: dict[str, Any]
    """Field name -> {value, confidence, evidence: [{quote, verified, start, end, speaker}]}."""
    verified_quotes: int
    unverified_quotes: int
    extracted_at: float

    def current(self, kit_digest: str, text_digest: str) -> bool:
        """Made from this kit and this text: no need to run it again."""
        return (self.kit_digest, self.text_digest) == (kit_digest, text_digest)


class ExtractionStore:
    """The extraction results table on one engine (the platform store's)."""

    def __init__(
        self, engine: sa.Engine, on_saved: Callable[[sa.Connection, StoredExtraction], None] | None = None
    ) -> None:
        self.engine = engine
        # Called inside save's transaction (delivery's outbox): a result is never kept without it.
        self.on_saved = on_saved
        self._insert = sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert

    def get(self, kit: str, transcript_id: str, account: str) -> StoredExtraction | None:
        table = extraction_results
        query = sa.select(table).where(
            table.c.kit == kit, table.c.transcript_id == transcript_id, table.c.account == account
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else StoredExtraction(**row._asdict())

    def save(self, result: StoredExtraction) -> None:
        """Insert `result`, or replace the one kept for its kit, transcript and account."""
        values = asdict(result)
        update = {k: v for k, v in values.items() if k not in _KEY}
        statement = (
            self._insert(extraction_results)
            .values(**values)
            .on_conflict_do_update(index_elements=list(_KEY), set_=update)
        )
        with self.engine.begin() as connection:
            connection.execute(statement)
            if self.on_saved is not None:
                self.on_saved(connection, result)

    def count(self, kit: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(extraction_results)
        if kit is not None:
            query = query.where(extraction_results.c.kit == kit)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def for_kit(self, kit: str, account: str | None = None) -> list[StoredExtraction]:
        """Every result of `kit` (one account's with `account`), by transcript id."""
        table = extraction_results
        query = sa.select(table).where(table.c.kit == kit).order_by(table.c.transcript_id)
        if account is not None:
            query = query.where(table.c.account == account)
        with self.engine.connect() as connection:
            return [StoredExtraction(**row._asdict()) for row in connection.execute(query)]

    def archived_completed_ids(self) -> list[str]:
        """The completed transcripts in the archive, oldest archived first: what `archive extract`
        goes through."""
        table = archived_transcripts
        query = sa.select(table.c.transcript_id).where(table.c.status == "completed").order_by(table.c.seq)
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())
