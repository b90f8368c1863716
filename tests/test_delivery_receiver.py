"""Delivery end to end, on SQLite and PostgreSQL: a real receiver on loopback injecting 500s, 429s and
timeouts gets every event exactly once by id; refusals become dead letters that a redelivery replays;
two workers at once never send one row twice at the same time. The delivery proof of issue 13."""

from __future__ import annotations

import anyio
import httpx
import pytest

from aai_mcp.delivery.deliveries import Deliveries
from aai_mcp.delivery.destinations import Destination
from aai_mcp.delivery.retry_policy import RetryPolicy
from aai_mcp.delivery.worker import DeliveryWorker
from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
from aai_mcp.state.delivery_outbox import DeliveryOutbox
from aai_mcp.state.store_sql import SqlStore
from tests.support.delivery_receiver import Fault, Receiver
from tests.support.servers import serve_app_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
SECRET = "whsec-loopback-receiver-01"
TIMEOUT = 3.0  # the worker's; a "hang" outlasts it


def _worker(
    outbox: DeliveryOutbox, base_url: str, client: httpx.AsyncClient, batch: int = 20
) -> DeliveryWorker:
    destination = Destination("crm", f"{base_url}/hooks/secret-path-token", SECRET)
    policy = RetryPolicy(max_attempts=8, base_seconds=0.05, max_seconds=2)
    return DeliveryWorker(outbox, {"crm": destination}, client, policy, timeout_seconds=TIMEOUT, batch=batch)


def _archive_transcripts(store: SqlStore, count: int) -> None:
    """Archive `count` transcripts the way every capture path does (each enqueued by the upsert)."""
    archive = ArchiveStore(
        store.engine, on_new=Deliveries(DeliveryOutbox(store.engine), ("crm",)).on_archived
    )
    for n in range(count):
        archive.upsert(ArchivedTranscript(f"t-{n:03d}", "completed", {}, text=f"call {n}"))


def _injected(event_id: str, tries: int) -> Fault | None:
    # Every event fails first: by its id, 1 to 3 faults of each kind in turn.
    plan: list[Fault] = [["500", "429", "hang"][i % 3] for i in range(int(event_id[-2:], 16) % 3 + 1)]
    return plan[tries] if tries < len(plan) else None


async def test_injected_500s_429s_and_timeouts_end_with_every_event_once(store: SqlStore) -> None:
    receiver = Receiver(SECRET, _injected, hang_seconds=TIMEOUT + 5)
    _archive_transcripts(store, 30)
    outbox = DeliveryOutbox(store.engine)
    with serve_app_in_thread(receiver.app()) as base_url:
        async with httpx.AsyncClient() as client:
            await _worker(outbox, base_url, client).drain()
    assert outbox.counts() == {"pending": 0, "delivered": 30, "dead": 0}
    assert len(receiver.accepted) == 30 and set(receiver.accepted.values()) == {1}
    assert sum(receiver.tries.values()) > 30 and receiver.bad_signatures == 0


async def test_a_refusal_is_a_dead_letter_and_a_redelivery_replays_it(store: SqlStore) -> None:
    refusing = True
    receiver = Receiver(SECRET, lambda _id, _tries: "410" if refusing else None)
    outbox = DeliveryOutbox(store.engine)
    ids = {outbox.enqueue("extraction.completed", f"t-{n}:kit", {"n": n}, ["crm"]) for n in range(3)}
    with serve_app_in_thread(receiver.app()) as base_url:
        async with httpx.AsyncClient() as client:
            worker = _worker(outbox, base_url, client)
            await worker.drain()
            assert {d.event_id for d in outbox.dead_letters()} == ids and not receiver.accepted
            assert set(receiver.tries.values()) == {1}  # refused for good: never retried
            refusing = False
            assert outbox.requeue_dead() == 3
            await worker.drain()
    assert set(receiver.accepted) == ids and set(receiver.accepted.values()) == {1}
    assert outbox.counts() == {"pending": 0, "delivered": 3, "dead": 0}


async def test_two_workers_never_send_one_row_at_the_same_time(store: SqlStore) -> None:
    receiver = Receiver(
        SECRET, lambda event_id, tries: "500" if tries == 0 and event_id[-1] in "02468" else None
    )
    outbox = DeliveryOutbox(store.engine)
    ids = {outbox.enqueue("k", f"s-{n}", {"n": n}, ["crm"]) for n in range(40)}
    with serve_app_in_thread(receiver.app()) as base_url:
        async with httpx.AsyncClient() as client, anyio.create_task_group() as group:
            for _ in range(2):
                group.start_soon(_worker(outbox, base_url, client, batch=3).drain)
    assert receiver.most_in_flight == 1
    assert set(receiver.accepted) == ids and set(receiver.accepted.values()) == {1}
    assert outbox.counts() == {"pending": 0, "delivered": 40, "dead": 0}
