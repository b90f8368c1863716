"""The delivery outbox on SQLite and PostgreSQL: one event per subject, rows per destination, the
archive enqueueing in its upsert, claims under a lease, results only by the holder, dead letters
requeued."""

from __future__ import annotations

from aai_mcp.delivery.deliveries import TRANSCRIPT_ARCHIVED, Deliveries
from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
from aai_mcp.state.delivery_outbox import DeliveryOutbox
from aai_mcp.state.store_sql import SqlStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _transcript(transcript_id: str) -> ArchivedTranscript:
    words = [{"text": "Hello", "start": 0, "end": 400}]
    utterance = {"speaker": "A", "start": 0, "end": 400, "text": "Hello.", "words": words}
    return ArchivedTranscript(
        transcript_id,
        "completed",
        {"speaker_labels": True},
        text="Hello.",
        utterances=[utterance],
        words=words,
    )


def test_a_newly_archived_transcript_is_enqueued_once_for_each_destination(store: SqlStore) -> None:
    outbox = DeliveryOutbox(store.engine)
    archive = ArchiveStore(store.engine, on_new=Deliveries(outbox, ("crm", "chat")).on_archived)
    assert archive.upsert(_transcript("t-1")) is True
    assert archive.upsert(_transcript("t-1")) is False  # stored again: not new, nothing enqueued
    assert outbox.counts() == {"pending": 2, "delivered": 0, "dead": 0}
    claimed = outbox.claim("w", ["crm", "chat"], 10, 60)
    assert sorted(c.destination for c in claimed) == ["chat", "crm"]
    assert {c.kind for c in claimed} == {TRANSCRIPT_ARCHIVED} and len({c.event_id for c in claimed}) == 1
    payload = claimed[0].payload
    assert payload["transcript_id"] == "t-1" and payload["text"] == "Hello."
    assert payload["utterances"] == [{"speaker": "A", "start": 0, "end": 400, "text": "Hello."}]


def test_without_destinations_nothing_is_enqueued(store: SqlStore) -> None:
    outbox = DeliveryOutbox(store.engine)
    ArchiveStore(store.engine, on_new=Deliveries(outbox, ()).on_archived).upsert(_transcript("t-1"))
    assert outbox.counts() == {"pending": 0, "delivered": 0, "dead": 0}


def test_one_event_per_kind_and_subject(store: SqlStore) -> None:
    deliveries = Deliveries(DeliveryOutbox(store.engine), ("crm",))
    first = deliveries.enqueue_delivery("extraction.completed", "t-1:support_qa:v1", {"risk": True})
    assert first is not None and first.startswith("evt_")
    assert deliveries.enqueue_delivery("extraction.completed", "t-1:support_qa:v1", {"risk": True}) is None
    assert deliveries.enqueue_delivery("extraction.completed", "t-1:support_qa:v2", {"risk": False})
    assert deliveries.outbox.counts()["pending"] == 2
    with store.engine.connect() as connection, connection.begin() as transaction:
        assert deliveries.enqueue_delivery("extraction.completed", "t-2:sales:v1", {}, connection)
        transaction.rollback()  # the result was not stored: neither is its delivery
    assert deliveries.outbox.counts()["pending"] == 2


def test_a_claimed_row_is_no_one_elses_until_its_lease_lapses(store: SqlStore) -> None:
    clock = Clock()
    outbox = DeliveryOutbox(store.engine, clock)
    outbox.enqueue("k", "s-1", {}, ["crm"])
    [mine] = outbox.claim("a", ["crm"], 10, 60)
    assert mine.attempts == 1
    assert outbox.claim("b", ["crm"], 10, 60) == []
    clock.now += 61  # a crashed holder: its lease lapses and another worker takes the row
    [theirs] = outbox.claim("b", ["crm"], 10, 60)
    assert theirs.seq == mine.seq and theirs.attempts == 2
    assert outbox.delivered(mine, "a", 200) is False  # a's lease is gone: its answer is not recorded
    assert outbox.delivered(theirs, "b", 200) is True
    assert outbox.counts() == {"pending": 0, "delivered": 1, "dead": 0}


def test_only_due_rows_of_configured_destinations_are_claimed(store: SqlStore) -> None:
    clock = Clock()
    outbox = DeliveryOutbox(store.engine, clock)
    outbox.enqueue("k", "s-1", {}, ["crm", "gone"])
    [item] = outbox.claim("a", ["crm"], 10, 60)
    assert outbox.retry_at(item, "a", clock.now + 30, 500, None)
    assert outbox.claim("a", ["crm"], 10, 60) == []
    assert outbox.next_due(["crm"]) == clock.now + 30
    clock.now += 30
    assert [c.seq for c in outbox.claim("a", ["crm"], 10, 60)] == [item.seq]


def test_dead_letters_are_listed_and_requeued_all_or_by_event_id(store: SqlStore) -> None:
    outbox = DeliveryOutbox(store.engine)
    ids = [outbox.enqueue("k", f"s-{n}", {"n": n}, ["crm"]) for n in range(3)]
    for item in outbox.claim("a", ["crm"], 10, 60):
        assert outbox.dead(item, "a", 410, None)
    dead = outbox.dead_letters()
    assert [d.event_id for d in dead] == ids and {d.last_status for d in dead} == {410}
    assert outbox.requeue_dead([str(ids[1])]) == 1
    [again] = outbox.claim("a", ["crm"], 10, 60)
    assert again.event_id == ids[1] and again.attempts == 1  # tries start over
    assert outbox.requeue_dead() == 2
    assert outbox.counts() == {"pending": 3, "delivered": 0, "dead": 0}
