"""The usage half of the SQL store: usage records per team and open transcription jobs (see
UsageStore for what each method means). A mixin of SqlStore, which owns the engine."""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from aai_mcp.state.store import UsageKind, UsageTotals
from aai_mcp.state.store_schema import transcript_jobs, usage_records

MAX_ACCOUNT = 200
MAX_RESOURCE_ID = 500


class UsageSql:
    engine: sa.Engine

    def record_usage(
        self,
        account: str,
        kind: UsageKind,
        quantity: float,
        *,
        resource_id: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> bool:
        if not account or len(account) > MAX_ACCOUNT:
            raise ValueError(f"an account name has 1 to {MAX_ACCOUNT} characters")
        if resource_id is not None and not 0 < len(resource_id) <= MAX_RESOURCE_ID:
            return False  # not an id AssemblyAI hands out: nothing to count it by
        row = {
            "account": account,
            "kind": kind,
            "resource_id": resource_id,
            "quantity": quantity,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "recorded_at": time.time(),
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(usage_records.insert().values(**row))
        except IntegrityError:
            return False  # the unique resource_id: another door or instance counted it first
        return True

    def record_transcript(self, transcript_id: str, reader: str, audio_seconds: float) -> str | None:
        owner = self._job_owner(transcript_id)
        account = owner or reader
        counted = self.record_usage(account, "audio", audio_seconds, resource_id=transcript_id)
        return account if counted else None

    def _job_owner(self, transcript_id: str) -> str | None:
        c = transcript_jobs.c
        query = sa.select(c.account).where(c.transcript_id == transcript_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else str(row.account)

    def usage_totals(self, since: float, account: str | None = None) -> list[UsageTotals]:
        c = usage_records.c
        kind_sum = {
            kind: sa.func.coalesce(sa.func.sum(sa.case((c.kind == kind, c.quantity), else_=0)), 0)
            for kind in ("audio", "llm", "stream", "clip", "speech")
        }
        kind_count = {
            kind: sa.func.coalesce(sa.func.sum(sa.case((c.kind == kind, 1), else_=0)), 0)
            for kind in ("audio", "stream", "clip")
        }
        query = (
            sa.select(
                c.account,
                kind_sum["audio"],
                kind_count["audio"],
                kind_sum["llm"],
                sa.func.coalesce(sa.func.sum(c.prompt_tokens), 0),
                sa.func.coalesce(sa.func.sum(c.completion_tokens), 0),
                kind_sum["stream"],
                kind_count["stream"],
                kind_sum["clip"],
                kind_count["clip"],
                kind_sum["speech"],
            )
            .where(c.recorded_at >= since)
            .group_by(c.account)
            .order_by(c.account)
        )
        if account is not None:
            query = query.where(c.account == account)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            UsageTotals(
                row[0],
                float(row[1]),
                int(row[2]),
                int(row[3]),
                int(row[4]),
                int(row[5]),
                float(row[6]),
                int(row[7]),
                float(row[8]),
                int(row[9]),
                int(row[10]),
            )
            for row in rows
        ]

    def open_job(self, transcript_id: str, account: str) -> None:
        if not 0 < len(transcript_id) <= MAX_RESOURCE_ID:
            return
        row = {"transcript_id": transcript_id, "account": account, "created_at": time.time()}
        try:
            with self.engine.begin() as connection:
                connection.execute(transcript_jobs.insert().values(**row))
        except IntegrityError:
            pass  # recorded already (the same answer seen twice)

    def finish_jobs(self, transcript_ids: list[str]) -> None:
        ids = [i for i in dict.fromkeys(transcript_ids) if 0 < len(i) <= MAX_RESOURCE_ID]
        if not ids:
            return
        c = transcript_jobs.c
        query = transcript_jobs.update().where(c.transcript_id.in_(ids), c.finished_at.is_(None))
        with self.engine.begin() as connection:
            connection.execute(query.values(finished_at=time.time()))

    def open_jobs(self, account: str, since: float) -> int:
        c = transcript_jobs.c
        query = (
            sa.select(sa.func.count())
            .select_from(transcript_jobs)
            .where(c.account == account, c.finished_at.is_(None), c.created_at >= since)
        )
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
