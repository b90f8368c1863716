"""The simulator's completion webhooks: sent when a transcript with webhook_url completes or fails,
with the auth header it was given and AssemblyAI's body; retried on 5xx and no answer, not after a
4xx; the last answer kept as webhook_status_code; never sent beyond loopback; the fault hook."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio
import httpx
import pytest

from aai_mcp.simulator.account_state import Simulator
from aai_mcp.simulator.jobs import TranscriptRecord
from aai_mcp.simulator.webhook_sender import MAX_ATTEMPTS, WebhookOutbox, WebhookSender, is_loopback_url
from tests.support.simulator_harness import DELAY, Harness

pytestmark = pytest.mark.anyio
HOOK = "http://127.0.0.1:9/hook"


@dataclass
class Receiver:
    """A webhook receiver answering `statuses` in turn (the last one from then on)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    seen: list[httpx.Request] = field(default_factory=list)
    answered: anyio.Event = field(default_factory=anyio.Event)
    settle_after: int = 1

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        status = self.statuses[min(len(self.seen) - 1, len(self.statuses) - 1)]
        if len(self.seen) >= self.settle_after:
            self.answered.set()
        return httpx.Response(status)


@asynccontextmanager
async def sending(
    simulator: Simulator, handler: Callable[[httpx.Request], httpx.Response]
) -> AsyncIterator[None]:
    sender = WebhookSender(simulator.webhooks, simulator.status_of, httpx.MockTransport(handler))
    async with sender.running():
        yield


async def test_a_completed_transcript_is_announced_with_its_auth_header(sim: Harness) -> None:
    receiver = Receiver()
    created = await sim.create(
        webhook_url=HOOK, webhook_auth_header_name="X-Hook", webhook_auth_header_value="v1"
    )
    async with sending(sim.simulator, receiver.handle):
        sim.clock.advance(DELAY)
        with anyio.fail_after(30):
            await receiver.answered.wait()
    [request] = receiver.seen
    assert str(request.url) == HOOK and request.method == "POST"
    assert request.headers["X-Hook"] == "v1"
    assert json.loads(request.content) == {"transcript_id": created["id"], "status": "completed"}
    transcript = await sim.get(created["id"])
    assert transcript["webhook_status_code"] == 200 and "webhook_auth_header_value" not in transcript


async def test_a_failed_transcript_is_announced_as_error(sim: Harness) -> None:
    receiver = Receiver()
    created = await sim.create("https://nowhere.invalid/a.wav", webhook_url=HOOK)
    async with sending(sim.simulator, receiver.handle):
        sim.clock.advance(DELAY)
        with anyio.fail_after(30):
            await receiver.answered.wait()
    assert json.loads(receiver.seen[0].content) == {"transcript_id": created["id"], "status": "error"}


async def test_nothing_is_sent_before_the_job_ends(sim: Harness) -> None:
    receiver = Receiver()
    created = await sim.create(webhook_url=HOOK)
    async with sending(sim.simulator, receiver.handle):
        sim.clock.advance(DELAY / 2)
        await sim.get(created["id"])  # processing
        assert receiver.seen == [] and sim.simulator.webhooks.waiting != []
        sim.clock.advance(DELAY)
        with anyio.fail_after(30):
            await receiver.answered.wait()
    assert len(receiver.seen) == 1


async def test_a_5xx_is_tried_again_and_a_4xx_is_not(sim: Harness) -> None:
    retried = Receiver(statuses=[503, 500, 202], settle_after=3)
    created = await sim.create(webhook_url=HOOK)
    async with sending(sim.simulator, retried.handle):
        sim.clock.advance(DELAY)
        with anyio.fail_after(30):
            await retried.answered.wait()
    assert len(retried.seen) == 3 and (await sim.get(created["id"]))["webhook_status_code"] == 202

    refused = Receiver(statuses=[401])
    other = await sim.create(webhook_url=HOOK)
    async with sending(sim.simulator, refused.handle):
        sim.clock.advance(DELAY)
        with anyio.fail_after(30):
            await refused.answered.wait()
        await sim.get(other["id"])
    assert len(refused.seen) == 1 and (await sim.get(other["id"]))["webhook_status_code"] == 401


async def test_the_fault_hook_fails_every_nth_attempt_which_is_then_retried(sim: Harness) -> None:
    receiver = Receiver(settle_after=10)
    sim.simulator.webhooks.fail_every = 10
    for _ in range(10):
        await sim.create(webhook_url=HOOK)
    async with sending(sim.simulator, receiver.handle):
        sim.clock.advance(DELAY)
        with anyio.fail_after(30):
            await receiver.answered.wait()
    outbox = sim.simulator.webhooks
    assert (outbox.attempts, outbox.failed_attempts, len(receiver.seen)) == (11, 1, 10)


def test_only_loopback_receivers_are_sent_to() -> None:
    assert is_loopback_url("http://127.0.0.1:8000/h") and is_loopback_url("http://[::1]/h")
    assert is_loopback_url("http://localhost:1/h")
    assert not is_loopback_url("https://hooks.example.com/h") and not is_loopback_url("http://10.0.0.1/h")
    assert MAX_ATTEMPTS == 10


async def test_a_public_receiver_is_never_contacted(sim: Harness) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent to {request.url}")

    created = await sim.create(webhook_url="https://hooks.example.com/h")
    record = sim.simulator.transcripts.get(created["id"])
    assert record is not None and sim.simulator.webhooks.waiting == [record]
    sim.clock.advance(DELAY)
    sender = WebhookSender(sim.simulator.webhooks, sim.simulator.status_of)
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        await sender.deliver(client, record)
    assert sim.simulator.webhooks.attempts == 0
    assert (await sim.get(created["id"]))["webhook_status_code"] is None


async def test_the_fault_hook_is_set_through_the_admin_routes(sim: Harness) -> None:
    admin = {"Host": "127.0.0.1:8765"}
    answer = await sim.client.post("/_sim/webhooks", json={"fail_every": 10}, headers=admin)
    assert answer.status_code == 200 and answer.json()["fail_every"] == 10
    assert sim.simulator.webhooks.fail_every == 10
    bodies: list[object] = [{"fail_every": -1}, {"fail_every": "10"}, {"fail_every": True}, []]
    for bad in bodies:
        assert (await sim.client.post("/_sim/webhooks", json=bad, headers=admin)).status_code == 400
    await sim.create(webhook_url=HOOK)
    counts = (await sim.client.get("/_sim/webhooks", headers=admin)).json()
    assert counts == {"waiting": 1, "attempts": 0, "failed_attempts": 0, "fail_every": 10}
    await sim.client.post("/_sim/reset", headers=admin)
    assert sim.simulator.webhooks.fail_every == 0 and sim.simulator.webhooks.waiting == []


def test_a_transcript_that_finishes_while_the_outbox_is_read_is_sent_later_not_lost() -> None:
    early, late = (
        TranscriptRecord(name, n, {"webhook_url": "http://127.0.0.1:9/hook"}, 0.0, datetime.now(UTC))
        for n, name in enumerate(("early", "late"))
    )
    outbox = WebhookOutbox()
    outbox.submitted(early)
    outbox.submitted(late)
    asked: Counter[str] = Counter()

    def finished(record: TranscriptRecord) -> bool:
        # "late" finishes the moment after it is first asked: the clock moved on mid-read.
        asked[record.transcript_id] += 1
        return record.transcript_id == "early" or asked[record.transcript_id] > 1

    assert outbox.due(finished) == [early]
    assert outbox.due(finished) == [late] and outbox.waiting == []
