"""The delivery worker: claims due outbox rows under a lease, POSTs each signed event to its
destination, and records the answer (delivered, retry later, dead letter).

Where it runs: inside `aai-mcp serve` and `aai-mcp archive sync --every` (beside their own work),
and alone as `aai-mcp archive deliver`. Several at once (instances, commands) share the outbox
safely: a row is claimed by one worker at a time (state/delivery_outbox.py).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio
import httpx
import orjson

from aai_mcp.delivery.destinations import Destination
from aai_mcp.delivery.retry_policy import RetryPolicy, retry_after_seconds, verdict
from aai_mcp.delivery.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header
from aai_mcp.state.delivery_outbox import Claimed, DeliveryOutbox

logger = logging.getLogger("aai_mcp.delivery")
USER_AGENT = "aai-mcp-delivery/1"


def worker_name() -> str:
    """Who holds a lease: this host and process, and a random part so two workers in one process differ."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def event_body(item: Claimed) -> bytes:
    """The JSON a destination receives; its "id" is the event id (the same on every retry)."""
    created = datetime.fromtimestamp(item.created_at, UTC).isoformat().replace("+00:00", "Z")
    return orjson.dumps(
        {"id": item.event_id, "type": item.kind, "created_at": created, "subject_id": item.subject_id,
         "data": item.payload}
    )  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What one try did: the status (None: no answer), and when to try again (None: finished)."""

    status: int | None
    error: str | None
    retry_after: float | None = None


@dataclass
class DeliveryWorker:
    """Delivers the outbox's rows for `destinations` (rows for a destination no longer configured wait)."""

    outbox: DeliveryOutbox
    destinations: Mapping[str, Destination]
    client: httpx.AsyncClient
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_seconds: float = 10.0
    batch: int = 20
    holder: str = field(default_factory=worker_name)
    clock: Callable[[], float] = time.time

    @property
    def lease_seconds(self) -> float:
        # A batch is sent at once, each try bounded by the timeout: the lease outlasts it with margin,
        # so another worker takes a row only when this one died with it.
        return self.timeout_seconds * 2 + 30

    async def run_once(self) -> int:
        """Claim one batch of due rows and deliver it; how many rows were tried."""
        names = list(self.destinations)
        claimed = await anyio.to_thread.run_sync(
            self.outbox.claim, self.holder, names, self.batch, self.lease_seconds
        )
        async with anyio.create_task_group() as group:
            for item in claimed:
                group.start_soon(self._deliver, item)
        return len(claimed)

    async def run(self, idle_seconds: float = 1.0) -> None:
        """Deliver until cancelled; a failing store is logged and tried again (never ends serving)."""
        from sqlalchemy.exc import SQLAlchemyError

        from aai_mcp.state.store import failure_reason

        while True:
            try:
                if await self.run_once():
                    continue
                await anyio.sleep(await self._idle_wait(idle_seconds))
            except SQLAlchemyError as exc:
                logger.warning("delivery: the store failed (%s); trying again", failure_reason(exc))
                await anyio.sleep(idle_seconds)

    async def deliver_due(self) -> None:
        """Try every row due now once (and those a try makes due at once); rows waiting for a later
        retry stay for the running worker."""
        while await self.run_once():
            pass

    async def drain(self, idle_seconds: float = 1.0) -> None:
        """Deliver until no row for these destinations is pending (each one delivered or dead),
        waiting out the retries' backoff and other workers' leases."""
        while True:
            if await self.run_once():
                continue
            due = await anyio.to_thread.run_sync(self.outbox.next_due, list(self.destinations))
            if due is None:
                return
            await anyio.sleep(self._wait_for(due, idle_seconds))

    async def _idle_wait(self, idle_seconds: float) -> float:
        due = await anyio.to_thread.run_sync(self.outbox.next_due, list(self.destinations))
        return idle_seconds if due is None else self._wait_for(due, idle_seconds)

    def _wait_for(self, due: float, idle_seconds: float) -> float:
        # At most idle_seconds: a row another worker holds is due at its lease's end, but that worker
        # usually finishes it long before.
        return min(idle_seconds, max(0.01, due - self.clock()))

    async def _deliver(self, item: Claimed) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from aai_mcp.state.store import failure_reason

        outcome = await self._send(item, self.destinations[item.destination])
        try:
            await anyio.to_thread.run_sync(self._record, item, outcome)
        except SQLAlchemyError as exc:
            # Handled here, inside the batch's task group (it would reach run() as an exception group):
            # the row keeps its lease, which lapses, and it is tried again then.
            logger.warning("delivery %s: the store failed (%s)", item.event_id, failure_reason(exc))

    async def _send(self, item: Claimed, destination: Destination) -> Outcome:
        body = event_body(item)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(destination.secret, int(self.clock()), body),
            EVENT_ID_HEADER: item.event_id,
            EVENT_TYPE_HEADER: item.kind,
        }
        try:
            # Streamed and never read: a receiver's answer body is not ours to hold in memory.
            async with self.client.stream(
                "POST", destination.url, content=body, headers=headers, timeout=self.timeout_seconds
            ) as response:
                wait = retry_after_seconds(response.headers.get("retry-after"), self.clock())
                return Outcome(response.status_code, None, wait)
        except httpx.HTTPError as exc:
            # The class only: an exception's text may quote the URL, which may hold credentials.
            return Outcome(None, type(exc).__name__)

    def _record(self, item: Claimed, outcome: Outcome) -> None:
        said = verdict(outcome.status) if outcome.status is not None else "retry"
        where = f"delivery {item.event_id} to {item.destination}"
        answer = outcome.status if outcome.status is not None else outcome.error
        if said == "delivered":
            self.outbox.delivered(item, self.holder, outcome.status or 0)
            logger.info("%s: delivered (%s) after %d tries", where, answer, item.attempts)
        elif said == "refused" or item.attempts >= self.policy.max_attempts:
            self.outbox.dead(item, self.holder, outcome.status, outcome.error)
            logger.warning("%s: dead letter after %d tries (%s)", where, item.attempts, answer)
        else:
            wait = self.policy.delay(item.attempts, outcome.retry_after)
            self.outbox.retry_at(item, self.holder, self.clock() + wait, outcome.status, outcome.error)
            logger.info("%s: %s, try %d again in %.1f s", where, answer, item.attempts + 1, wait)
