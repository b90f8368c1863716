"""The delivery worker against a mocked receiver and a fake clock: signed headers, what each answer
does (2xx delivered, 408/429/5xx and network failures retried with backoff no sooner than
Retry-After, other statuses dead at once, dead after the last try), and logs that show neither the
URL nor the secret."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import orjson
import pytest
from sqlalchemy.exc import OperationalError

from aai_mcp.delivery.destinations import Destination
from aai_mcp.delivery.retry_policy import RetryPolicy, retry_after_seconds
from aai_mcp.delivery.signing import verify_signature
from aai_mcp.delivery.worker import DeliveryWorker
from aai_mcp.state.delivery_outbox import DeliveryOutbox
from aai_mcp.state.store_sql import SqlStore

SECRET = "whsec-unit-test-secret-0001"
URL = "https://user:hunter2@receiver.invalid/hooks/t0ken-in-path?key=q-secret"
pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _worker(
    store: SqlStore, answer: Callable[[httpx.Request], httpx.Response], max_attempts: int = 3
) -> tuple[DeliveryWorker, DeliveryOutbox, Clock]:
    clock = Clock()
    outbox = DeliveryOutbox(store.engine, clock)
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    policy = RetryPolicy(max_attempts=max_attempts, base_seconds=10, random=lambda: 1.0)
    destinations = {"crm": Destination("crm", URL, SECRET)}
    return DeliveryWorker(outbox, destinations, client, policy, clock=clock), outbox, clock


def _row_due(outbox: DeliveryOutbox) -> float | None:
    return outbox.next_due(["crm"])


async def test_a_delivery_is_signed_json_with_its_event_id(store: SqlStore) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    worker, outbox, clock = _worker(store, answer)
    event_id = outbox.enqueue("transcript.archived", "t-1", {"text": "hello"}, ["crm"])
    assert await worker.run_once() == 1
    [request] = seen
    body = request.content
    assert verify_signature(SECRET, request.headers["aai-mcp-signature"], body, now=clock.now)
    assert not verify_signature("whsec-some-other-secret", request.headers["aai-mcp-signature"], body)
    sent = orjson.loads(body)
    assert sent["id"] == event_id == request.headers["aai-mcp-event-id"]
    assert sent["type"] == "transcript.archived" == request.headers["aai-mcp-event-type"]
    assert sent["subject_id"] == "t-1" and sent["data"] == {"text": "hello"}
    assert outbox.counts() == {"pending": 0, "delivered": 1, "dead": 0}


@pytest.mark.parametrize("status", [400, 401, 404, 410, 302])
async def test_a_refusal_is_a_dead_letter_at_once(store: SqlStore, status: int) -> None:
    worker, outbox, _ = _worker(store, lambda _r: httpx.Response(status))
    outbox.enqueue("k", "s", {}, ["crm"])
    await worker.run_once()
    [dead] = outbox.dead_letters()
    assert dead.attempts == 1 and dead.last_status == status
    assert outbox.counts()["pending"] == 0


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
async def test_retryable_answers_back_off_then_deliver(store: SqlStore, status: int) -> None:
    answers = iter([status, status, 200])
    worker, outbox, clock = _worker(store, lambda _r: httpx.Response(next(answers)))
    outbox.enqueue("k", "s", {}, ["crm"])
    start = clock.now
    await worker.run_once()
    assert _row_due(outbox) == start + 10  # base * 2^0, the top of its jitter range here
    assert await worker.run_once() == 0  # not due yet
    clock.now = start + 10
    await worker.run_once()
    assert _row_due(outbox) == start + 10 + 20  # doubled
    clock.now = start + 30
    await worker.run_once()
    assert outbox.counts() == {"pending": 0, "delivered": 1, "dead": 0}


async def test_deliver_due_tries_what_is_due_once_and_leaves_retries_to_the_worker(store: SqlStore) -> None:
    answers = iter([500, 200, 200])
    worker, outbox, clock = _worker(store, lambda _r: httpx.Response(next(answers)))
    for n in range(2):
        outbox.enqueue("k", f"s-{n}", {}, ["crm"])
    await worker.deliver_due()  # returns without waiting out the first row's backoff
    assert outbox.counts() == {"pending": 1, "delivered": 1, "dead": 0}
    assert _row_due(outbox) == clock.now + 10


async def test_retry_after_is_honoured(store: SqlStore) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "120"}), httpx.Response(200)])
    worker, outbox, clock = _worker(store, lambda _r: next(answers))
    outbox.enqueue("k", "s", {}, ["crm"])
    await worker.run_once()
    assert _row_due(outbox) == clock.now + 120


async def test_network_failures_retry_and_the_last_try_makes_a_dead_letter(store: SqlStore) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused to " + str(request.url))

    worker, outbox, clock = _worker(store, answer, max_attempts=3)
    outbox.enqueue("k", "s", {}, ["crm"])
    for _ in range(3):
        assert await worker.run_once() == 1
        clock.now = (_row_due(outbox) or clock.now) + 1
    [dead] = outbox.dead_letters()
    assert dead.attempts == 3 and dead.last_status is None and dead.last_error == "ConnectError"


async def test_logs_name_the_destination_never_its_url_or_secret(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    answers = iter([500, 200])
    worker, outbox, clock = _worker(store, lambda _r: httpx.Response(next(answers)))
    outbox.enqueue("k", "s", {}, ["crm"])
    with caplog.at_level(logging.INFO, logger="aai_mcp.delivery"):
        await worker.run_once()
        clock.now += 100
        await worker.run_once()
    logged = caplog.text
    assert "to crm" in logged and "delivered" in logged
    for secret in ("hunter2", "t0ken-in-path", "q-secret", "receiver.invalid", SECRET):
        assert secret not in logged


async def test_a_store_failure_while_recording_leaves_the_row_to_its_lease(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker, outbox, clock = _worker(store, lambda _r: httpx.Response(200))
    outbox.enqueue("k", "s", {}, ["crm"])

    def failing(*_args: object) -> bool:
        raise OperationalError("UPDATE delivery_outbox", None, Exception("server closed the connection"))

    monkeypatch.setattr(outbox, "delivered", failing)
    assert await worker.run_once() == 1  # no exception: the batch goes on
    monkeypatch.undo()
    assert await worker.run_once() == 0  # still leased
    clock.now += worker.lease_seconds + 1
    assert await worker.run_once() == 1
    assert outbox.counts() == {"pending": 0, "delivered": 1, "dead": 0}


def test_retry_after_as_seconds_or_http_date() -> None:
    assert retry_after_seconds("30", 0) == 30
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", 40) == 60
    assert retry_after_seconds("soon", 0) is None and retry_after_seconds(None, 0) is None


def test_backoff_doubles_with_jitter_capped_and_never_under_retry_after() -> None:
    low = RetryPolicy(base_seconds=2, max_seconds=60, random=lambda: 0.0)
    high = RetryPolicy(base_seconds=2, max_seconds=60, random=lambda: 1.0)
    assert [low.delay(n) for n in (1, 2, 3)] == [1, 2, 4]
    assert [high.delay(n) for n in (1, 2, 3, 10)] == [2, 4, 8, 60]
    assert high.delay(1, retry_after=30) == 30 and high.delay(1, retry_after=10_000) == 60
