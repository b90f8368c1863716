"""The archive store on SQLite and PostgreSQL: idempotent upsert by id, ranked full-text search with
snippets and the timestamps of the hit (kept in step on update), duplicates by audio hash, checkpoints."""

from __future__ import annotations

from typing import Any

from aai_mcp.state.archive_search import SearchFilters
from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore, Checkpoint
from aai_mcp.state.store_sql import SqlStore
from tests.support.stores import StoreConfig


def _utterance(speaker: str, start: int, end: int, text: str) -> dict[str, Any]:
    return {"speaker": speaker, "start": start, "end": end, "text": text, "confidence": 0.9, "words": []}


def _transcript(
    transcript_id: str, *lines: str, audio_hash: str | None = None, created: float = 0
) -> ArchivedTranscript:
    utterances = [_utterance("AB"[i % 2], i * 5000, i * 5000 + 4000, line) for i, line in enumerate(lines)]
    return ArchivedTranscript(
        transcript_id=transcript_id,
        status="completed",
        request_config={"speech_models": ["universal"], "speaker_labels": True},
        created_at=created,
        text=" ".join(lines),
        utterances=utterances,
        audio_hash=audio_hash,
    )


def test_storing_the_same_transcript_twice_keeps_one_row(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    first = _transcript("t-1", "Hello there.", "My invoice is wrong.")
    assert archive.upsert(first) is True
    assert archive.upsert(first) is False
    assert archive.count() == 1
    kept = archive.get("t-1")
    assert (
        kept is not None
        and kept.utterances == first.utterances
        and kept.request_config == first.request_config
    )


def test_an_update_keeps_first_seen_and_refreshes_the_search_index(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    archive.upsert(_transcript("t-1", "The parcel never arrived."))
    assert [h.transcript_id for h in archive.search("parcel")] == ["t-1"]
    archive.upsert(_transcript("t-1", "The invoice was doubled."))
    assert archive.search("parcel") == []
    assert [h.transcript_id for h in archive.search("invoice")] == ["t-1"]
    assert archive.count() == 1


def test_search_ranks_snippets_and_points_at_the_utterance(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    archive.upsert(_transcript("once", "Good morning.", "I want a refund for my order.", "Thanks."))
    archive.upsert(_transcript("often", "Refund please.", "A refund, a full refund.", "Refund now."))
    archive.upsert(_transcript("never", "The weather is nice today."))
    hits = archive.search("refund")
    assert [h.transcript_id for h in hits] == ["often", "once"]
    once = hits[1]
    assert "[refund]" in once.snippet.lower()
    assert [(s.start, s.end, s.speaker) for s in once.spans] == [(5000, 9000, "B")]
    assert archive.search("refunds")[0].transcript_id == "often"  # stemmed on both engines


def test_search_takes_every_word_and_no_query_syntax(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    archive.upsert(_transcript("both", "refund for the order"))
    archive.upsert(_transcript("one", "refund only"))
    assert [h.transcript_id for h in archive.search("order refund")] == ["both"]
    assert [h.transcript_id for h in archive.search('"order" refund*(')] == ["both"]
    assert archive.search("   ") == []


def test_duplicates_by_audio_hash_are_reported(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    archive.upsert(_transcript("b", "x", audio_hash="sha256:aa", created=2))
    archive.upsert(_transcript("a", "x", audio_hash="sha256:aa", created=1))
    archive.upsert(_transcript("c", "x", audio_hash="sha256:cc", created=3))
    archive.upsert(_transcript("d", "x", created=4))
    report = archive.duplicates()
    assert [(d.audio_hash, d.transcript_ids) for d in report] == [("sha256:aa", ("a", "b"))]


def test_a_checkpoint_survives_reopening(store: SqlStore, store_config: StoreConfig) -> None:
    archive = ArchiveStore(store.engine)
    assert archive.checkpoint("run") is None
    archive.save_checkpoint(Checkpoint("run", {"status": "completed"}, cursor_id="t-9", pages=3, archived=20))
    archive.save_checkpoint(Checkpoint("run", {"status": "completed"}, cursor_id="t-5", pages=4, archived=30))
    reopened = store_config.open()
    try:
        found = ArchiveStore(reopened.engine).checkpoint("run")
    finally:
        reopened.close()
    assert found is not None and (found.cursor_id, found.pages, found.archived) == ("t-5", 4, 30)


def test_reads_see_only_the_callers_account(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    theirs = ArchivedTranscript(**{**_transcript("t-other", "Their refund call.").row(), "account": "other"})
    archive.upsert(theirs)
    archive.upsert(_transcript("t-mine", "My refund call."))
    assert archive.get("t-other", account="default") is None
    kept = archive.get("t-other", account="other")
    assert kept is not None and kept.account == "other"
    assert [h.transcript_id for h in archive.search("refund", filters=SearchFilters("default"))] == ["t-mine"]
    assert [h.transcript_id for h in archive.search("refund", filters=SearchFilters("other"))] == ["t-other"]
    assert [h.transcript_id for h in archive.search("refund")] == ["t-mine"]  # no account: the default's


def test_search_filters_by_status_and_created_time(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    archive.upsert(_transcript("early", "A refund request.", created=1000))
    archive.upsert(_transcript("late", "A refund request.", created=5000))
    failed = ArchivedTranscript(
        **{**_transcript("failed", "A refund request.", created=3000).row(), "status": "error"}
    )
    archive.upsert(failed)

    def ids(**filters: Any) -> set[str]:
        return {
            h.transcript_id for h in archive.search("refund", filters=SearchFilters("default", **filters))
        }

    assert ids() == {"early", "late", "failed"}
    assert ids(status="completed") == {"early", "late"}
    assert ids(since=2000) == {"late", "failed"} and ids(until=5000) == {"early", "failed"}
    assert ids(since=2000, until=4000) == {"failed"}


def test_a_transcript_of_an_upload_hashed_on_the_way_is_archived_with_its_hash(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    archive.record_upload("https://cdn.example/upload/1", "sha256:11", 1000)
    archive.record_upload("https://cdn.example/upload/1", "sha256:other", 5)  # first hash stays
    body = {"id": "t-up", "status": "completed", "text": "hi", "audio_url": "https://cdn.example/upload/1"}
    archive.upsert(ArchivedTranscript.from_upstream(body))
    elsewhere = {**body, "id": "t-url", "audio_url": "https://calls.example.com/a.wav"}
    archive.upsert(ArchivedTranscript.from_upstream(elsewhere))
    kept, other = archive.get("t-up"), archive.get("t-url")
    assert kept is not None and kept.audio_hash == "sha256:11"
    assert other is not None and other.audio_hash is None
    assert "audio_url" not in kept.request_config  # a signed link is never kept


def test_duplicates_are_grouped_per_account_with_dates_and_counted(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    for transcript_id, account, created in (("a1", "a", 1.0), ("a2", "a", 2.0), ("b1", "b", 3.0)):
        row = {**_transcript(transcript_id, "x", audio_hash="sha256:same", created=created).row()}
        archive.upsert(ArchivedTranscript(**{**row, "account": account}))
    report = archive.duplicates()
    assert [(d.account, d.transcripts) for d in report] == [("a", (("a1", 1.0), ("a2", 2.0)))]
    assert archive.duplicate_count() == 1


def test_upstream_deleted_is_flagged_once_and_cleared_by_a_fresh_copy(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    archive.upsert(_transcript("t-1", "x"))
    assert archive.mark_upstream_deleted(["t-1", "t-unknown"]) == 1
    assert archive.mark_upstream_deleted(["t-1"]) == 0
    kept = archive.get("t-1")
    assert kept is not None and kept.upstream_deleted is True
    archive.upsert(_transcript("t-1", "x"))  # fetched again: upstream has it
    again = archive.get("t-1")
    assert again is not None and again.upstream_deleted is False
