"""The transcript archive in the store: upsert by transcript id, ranked full-text search with snippets
and the timestamps of the hit, a duplicate report by audio hash, and the checkpoints of backfills.

One schema on SQLite and PostgreSQL (migration 0003); only full-text search differs per engine
(archive_search.py).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from aai_mcp.access.accounts import DEFAULT_ACCOUNT
from aai_mcp.state.archive_search import SearchFilters, SearchHit, search_transcripts
from aai_mcp.state.store_schema import archive_pending, archive_runs, archived_transcripts, upload_hashes

# Upstream fields the request config keeps: what the transcript was made with, minus anything secret
# (the webhook's auth value never comes back from upstream; the audio URL may be a signed link).
_RESULT_FIELDS = frozenset(
    {
        "id", "status", "text", "words", "utterances", "confidence", "audio_duration", "error",
        "audio_url", "webhook_auth_header_value", "speech_model_used", "language_confidence",
        "auto_highlights_result", "content_safety_labels", "iab_categories_result", "entities",
        "sentiment_analysis_results", "chapters", "summary", "translated_texts", "speech_understanding",
        "webhook_status_code", "throttled", "created", "completed",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ArchivedTranscript:
    """One transcript as the archive keeps it (times in epoch seconds)."""

    transcript_id: str
    status: str
    request_config: dict[str, Any]
    created_at: float | None = None
    completed_at: float | None = None
    audio_duration: int | None = None
    language_code: str | None = None
    speech_model: str | None = None
    text: str | None = None
    utterances: list[dict[str, Any]] | None = None
    words: list[dict[str, Any]] | None = None
    sentences: list[dict[str, Any]] | None = None
    paragraphs: list[dict[str, Any]] | None = None
    srt: str | None = None
    vtt: str | None = None
    audio_hash: str | None = None
    upstream_deleted: bool = False
    account: str = DEFAULT_ACCOUNT
    """Whose transcript it is: the account whose key made it (the server's own key: the default)."""
    audio_url: str | None = field(default=None, compare=False)
    """Not stored (it may be a signed link): upsert looks it up among the uploads hashed on the way."""

    @classmethod
    def from_upstream(cls, transcript: dict[str, Any], **extra: Any) -> ArchivedTranscript:
        """From upstream's transcript object (GET /v2/transcript/{id}); `extra` adds what other calls
        gave (sentences, paragraphs, srt, vtt, created_at, completed_at, audio_hash)."""
        config = {k: v for k, v in transcript.items() if k not in _RESULT_FIELDS and v is not None}
        return cls(
            transcript_id=str(transcript["id"]),
            status=str(transcript["status"]),
            request_config=config,
            audio_duration=_int_or_none(transcript.get("audio_duration")),
            language_code=transcript.get("language_code"),
            speech_model=transcript.get("speech_model_used") or transcript.get("speech_model"),
            text=transcript.get("text"),
            utterances=transcript.get("utterances"),
            words=transcript.get("words"),
            audio_url=transcript.get("audio_url"),
            **extra,
        )

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in STORED_FIELDS}


_TIMES = ("first_seen_at", "last_synced_at")
STORED_FIELDS = tuple(name for name in ArchivedTranscript.__dataclass_fields__ if name != "audio_url")


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class DuplicateAudio:
    """One account's transcripts of the same audio (same hash), oldest first."""

    audio_hash: str
    account: str
    transcripts: tuple[tuple[str, float | None], ...]
    """(transcript id, created_at) pairs."""

    @property
    def transcript_ids(self) -> tuple[str, ...]:
        return tuple(transcript_id for transcript_id, _created in self.transcripts)


@dataclass
class Checkpoint:
    """Where a backfill run stands: the last list cursor fully stored, and its counts so far."""

    run_key: str
    filters: dict[str, Any]
    cursor_id: str | None = None
    pages: int = 0
    archived: int = 0
    skipped: int = 0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None


class ArchiveStore:
    """The archive's tables on one engine (the platform store's: `SqlStore.engine`)."""

    def __init__(
        self, engine: sa.Engine, on_new: Callable[[sa.Connection, ArchivedTranscript], None] | None = None
    ) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        # Called in the upsert's transaction for a transcript archived for the first time: every
        # capture path (backfill, sync, webhook) stores through upsert, so this is where deliveries
        # are enqueued, atomically with the row.
        self.on_new = on_new

    def upsert(self, transcript: ArchivedTranscript) -> bool:
        """Store `transcript`, replacing what was kept under its id; True when the id is new.
        first_seen_at stays the first time's; last_synced_at is now."""
        now = time.time()
        values = {**transcript.row(), "first_seen_at": now, "last_synced_at": now}
        values["hashed_upload_url"] = transcript.audio_url
        statement = self._upsert_statement
        with self.engine.begin() as connection:
            known = connection.execute(self._id_query([transcript.transcript_id])).first() is not None
            connection.execute(statement, values)
            if not known and self.on_new is not None:
                self.on_new(connection, transcript)
        return not known

    @functools.cached_property
    def _upsert_statement(self) -> sa.Insert:
        """One statement for every upsert (compiled once, bound per row): the new row's values replace
        the kept ones (`excluded`), so each value is bound and serialized once. audio_hash: the given
        one, else the hash recorded for the upload the audio_url names."""
        table = archived_transcripts
        insert = (sqlite.insert if self._dialect == "sqlite" else postgresql.insert)(table)
        upload = sa.bindparam("hashed_upload_url", type_=sa.String())
        hashed = sa.select(upload_hashes.c.audio_hash).where(upload_hashes.c.upload_url == upload)
        values: dict[str, sa.ColumnElement[Any]] = {
            name: sa.bindparam(name, type_=table.c[name].type) for name in (*STORED_FIELDS, *_TIMES)
        }
        values["audio_hash"] = sa.func.coalesce(values["audio_hash"], hashed.scalar_subquery())
        keep = ("transcript_id", "first_seen_at")
        update = {name: insert.excluded[name] for name in values if name not in keep}
        statement: sa.Insert = insert.values(values).on_conflict_do_update(
            index_elements=["transcript_id"], set_=update
        )
        return statement

    @staticmethod
    def _id_query(ids: list[str]) -> sa.Select[Any]:
        column = archived_transcripts.c.transcript_id
        return sa.select(column).where(column.in_(ids))

    def archived_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` the archive holds."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return set()
        with self.engine.connect() as connection:
            return {str(found) for found in connection.execute(self._id_query(wanted)).scalars()}

    def get(self, transcript_id: str, account: str | None = None) -> ArchivedTranscript | None:
        """The transcript kept under `transcript_id`; with `account`, only when it is that account's."""
        columns = [archived_transcripts.c[name] for name in STORED_FIELDS]
        query = sa.select(*columns).where(archived_transcripts.c.transcript_id == transcript_id)
        if account is not None:
            query = query.where(archived_transcripts.c.account == account)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else ArchivedTranscript(**row._asdict())

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(archived_transcripts)).scalar_one()
            )

    def all_ids(self) -> list[str]:
        query = sa.select(archived_transcripts.c.transcript_id).order_by(archived_transcripts.c.transcript_id)
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def search(
        self, query: str, limit: int = 10, filters: SearchFilters | None = None, offset: int = 0
    ) -> list[SearchHit]:
        """Transcripts matching every word of `query`, best first, each with a snippet and the
        utterances (speaker, start, end in ms) where the words are; one account's only (the default
        account's when `filters` names none)."""
        with self.engine.connect() as connection:
            chosen = filters or SearchFilters(DEFAULT_ACCOUNT)
            return search_transcripts(connection, query, limit, chosen, offset)

    def duplicates(self) -> list[DuplicateAudio]:
        """Every audio hash held by more than one transcript of the same account."""
        table = archived_transcripts
        shared = (
            sa.select(table.c.account, table.c.audio_hash)
            .where(table.c.audio_hash.is_not(None))
            .group_by(table.c.account, table.c.audio_hash)
            .having(sa.func.count() > 1)
        )
        query = (
            sa.select(table.c.account, table.c.audio_hash, table.c.transcript_id, table.c.created_at)
            .where(sa.tuple_(table.c.account, table.c.audio_hash).in_(shared))
            .order_by(table.c.account, table.c.audio_hash, table.c.created_at, table.c.transcript_id)
        )
        groups: dict[tuple[str, str], list[tuple[str, float | None]]] = {}
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                member = (row.transcript_id, row.created_at)
                groups.setdefault((row.account, row.audio_hash), []).append(member)
        return [DuplicateAudio(h, account, tuple(members)) for (account, h), members in groups.items()]

    def duplicate_count(self) -> int:
        """Transcripts whose audio an older transcript of the same account already had."""
        return sum(len(group.transcripts) - 1 for group in self.duplicates())

    def record_upload(self, upload_url: str, audio_hash: str, size_bytes: int) -> None:
        """Remember the hash of an upload's bytes (computed as they streamed to /v2/upload)."""
        values = {"upload_url": upload_url, "audio_hash": audio_hash, "size_bytes": size_bytes}
        insert = (sqlite.insert if self._dialect == "sqlite" else postgresql.insert)(upload_hashes)
        statement = insert.values(**values, recorded_at=time.time()).on_conflict_do_nothing()
        with self.engine.begin() as connection:
            connection.execute(statement)

    @staticmethod
    def _hash_query(upload_url: str) -> sa.Select[Any]:
        return sa.select(upload_hashes.c.audio_hash).where(upload_hashes.c.upload_url == upload_url)

    def upload_hash(self, upload_url: str) -> str | None:
        with self.engine.connect() as connection:
            found: str | None = connection.execute(self._hash_query(upload_url)).scalar()
            return found

    def mark_upstream_deleted(self, transcript_ids: Iterable[str]) -> int:
        """Flag archived transcripts upstream no longer has (deleted, expired); how many it flagged."""
        wanted = list(dict.fromkeys(transcript_ids))
        if not wanted:
            return 0
        table = archived_transcripts
        statement = (
            table.update()
            .where(table.c.transcript_id.in_(wanted), table.c.upstream_deleted.is_(sa.false()))
            .values(upstream_deleted=True)
        )
        with self.engine.begin() as connection:
            return int(connection.execute(statement).rowcount)

    def mark_past_retention(self, created_before: float) -> int:
        """Flag as upstream_deleted every archived transcript created before `created_before`."""
        table = archived_transcripts
        statement = (
            table.update()
            .where(table.c.created_at < created_before, table.c.upstream_deleted.is_(sa.false()))
            .values(upstream_deleted=True)
        )
        with self.engine.begin() as connection:
            return int(connection.execute(statement).rowcount)

    def checkpoint(self, run_key: str) -> Checkpoint | None:
        query = sa.select(archive_runs).where(archive_runs.c.run_key == run_key)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        fields = row._asdict()
        fields.pop("updated_at")
        return Checkpoint(**fields)

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Record `checkpoint` (insert or replace its run's row)."""
        values = {**checkpoint.__dict__, "updated_at": time.time()}
        insert = (sqlite.insert if self._dialect == "sqlite" else postgresql.insert)(archive_runs)
        update = {k: v for k, v in values.items() if k != "run_key"}
        with self.engine.begin() as connection:
            connection.execute(
                insert.values(**values).on_conflict_do_update(index_elements=["run_key"], set_=update)
            )

    def forget_checkpoint(self, run_key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(archive_runs.delete().where(archive_runs.c.run_key == run_key))

    def newest_id(self, account: str = DEFAULT_ACCOUNT) -> str | None:
        """The account's archived transcript created last (where its first sync starts)."""
        table = archived_transcripts
        query = (
            sa.select(table.c.transcript_id)
            .where(table.c.created_at.is_not(None), table.c.account == account)
            .order_by(table.c.created_at.desc(), table.c.seq.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

    def add_pending(self, ids: Iterable[str], source: str | None = None) -> None:
        """Remember transcripts seen unfinished (queued, processing) for a later sync; `source`: the
        key that listed them (None: the server's own), which must fetch them."""
        insert = (sqlite.insert if self._dialect == "sqlite" else postgresql.insert)(archive_pending)
        rows = [{"transcript_id": i, "seen_at": time.time(), "source": source} for i in dict.fromkeys(ids)]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(insert.values(rows).on_conflict_do_nothing())

    def pending_ids(self, source: str | None = None) -> list[str]:
        table = archive_pending
        query = sa.select(table.c.transcript_id).order_by(table.c.seen_at)
        query = query.where(table.c.source.is_(None) if source is None else table.c.source == source)
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def drop_pending(self, transcript_id: str) -> None:
        table = archive_pending
        with self.engine.begin() as connection:
            connection.execute(table.delete().where(table.c.transcript_id == transcript_id))
