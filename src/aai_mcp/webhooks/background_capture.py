"""Capturing the transcript a webhook announced: fetch it (with archive/capture.py's Fetcher, as sync
and backfill do) and store it in the archive, after the webhook was answered.

Never lost: the endpoint records the transcript id in the archive's pending list before it answers,
and only a finished capture takes it off. A capture that fails (upstream 5xx or 429, a timeout, the
store) is tried again with backoff; what is still pending after the last try, or after a crash, is
picked up by the next start of the server (it sweeps the pending list) or by `aai-mcp archive sync`,
which finishes every pending transcript. Each store is an upsert by id, so nothing is stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import anyio
import httpx
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from aai_mcp.archive.capture import UNFINISHED, Fetcher, Views
from aai_mcp.archive.pacing import Pacer, Sleep
from aai_mcp.state.store import store_errors
from aai_mcp.upstream.client import Upstream
from aai_mcp.upstream.errors import UpstreamError

if TYPE_CHECKING:  # the archive (SQLAlchemy) is loaded only by a server that opens a store
    from aai_mcp.state.archive_store import ArchiveStore

log = logging.getLogger("aai_mcp.webhooks")

Outcome = Literal["stored", "job-error", "gone", "unfinished"]
# Upstream failures (5xx, 429 past the pacer's own waits, timeouts, malformed answers); the store's are
# store_errors(), added where caught.
RETRIED = (UpstreamError, httpx.HTTPError, OSError)


def _retried() -> tuple[type[BaseException], ...]:
    return (*RETRIED, *store_errors())


# Ids waiting for a capture slot; past this the id stays pending for the sweep or `archive sync`.
QUEUE_SIZE = 10_000


@dataclass(frozen=True)
class RetryPolicy:
    """Waits between tries double from `first_seconds` up to `max_seconds`; `tries` in all."""

    first_seconds: float = 1.0
    max_seconds: float = 60.0
    tries: int = 8

    def pauses(self) -> list[float]:
        pauses, pause = [], self.first_seconds
        for _ in range(self.tries - 1):
            pauses.append(pause)
            pause = min(pause * 2, self.max_seconds)
        return pauses


NO_VIEWS = Views()
DEFAULT_RETRY = RetryPolicy()


class WebhookCapture:
    """Records announced transcripts durably, then captures them in the background while `running`."""

    def __init__(
        self,
        upstream: Upstream,
        archive: ArchiveStore,
        *,
        views: Views = NO_VIEWS,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_per_second: float = 20.0,
        concurrency: int = 4,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.upstream = upstream
        self.archive = archive
        self.retry = retry
        # The archive given: a transcript gone upstream (404, or scrubbed) flags its archived copy.
        self._fetcher = Fetcher(upstream, Pacer(max_per_second), views, archive)
        self._limit = anyio.Semaphore(concurrency)
        self._sleep = sleep
        self._send: MemoryObjectSendStream[str] | None = None
        self._in_flight: set[str] = set()
        self.settled = anyio.Event()
        """Set (and replaced) each time a capture ends, stored or given up: tests await it."""

    def record(self, transcript_id: str) -> None:
        """Remember `transcript_id` as pending, durably (raises when the store cannot)."""
        self.archive.add_pending([transcript_id])

    def hand_off(self, transcript_id: str) -> None:
        """Capture `transcript_id` soon (it is pending already, so a full queue, or a capture not
        running, loses nothing: the next start's sweep or `archive sync` takes it)."""
        try:
            if self._send is None:
                raise anyio.ClosedResourceError
            self._send.send_nowait(transcript_id)
        except (anyio.WouldBlock, anyio.ClosedResourceError):
            log.warning("webhook capture queue full: %s left pending for archive sync", transcript_id)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Capture in the background; first, every transcript left pending (a crash, a last try)."""
        send, receive = anyio.create_memory_object_stream[str](QUEUE_SIZE)
        with send, receive:
            async with anyio.create_task_group() as group:
                self._send = send
                group.start_soon(self._work, receive, group)
                group.start_soon(self._sweep)
                try:
                    yield
                finally:
                    self._send = None
                    group.cancel_scope.cancel()

    async def _sweep(self) -> None:
        try:
            for transcript_id in self.archive.pending_ids():
                self.hand_off(transcript_id)
        except store_errors() as exc:
            log.warning("webhook capture could not read the pending list at start: %s", type(exc).__name__)

    async def _work(self, receive: MemoryObjectReceiveStream[str], group: TaskGroup) -> None:
        async for transcript_id in receive:
            if transcript_id not in self._in_flight:  # upstream may send one webhook twice
                self._in_flight.add(transcript_id)
                group.start_soon(self._capture, transcript_id)

    async def _capture(self, transcript_id: str) -> None:
        try:
            for pause in [*self.retry.pauses(), None]:
                try:
                    outcome = await self.capture_once(transcript_id)
                except _retried() as exc:
                    if pause is None:
                        log.warning(
                            "webhook capture of %s failed (%s) after %d tries: left pending for "
                            "archive sync or the next start",
                            transcript_id,
                            _reason(exc),
                            self.retry.tries,
                        )
                        return
                    log.info("webhook capture of %s failed (%s), trying again", transcript_id, _reason(exc))
                    await self._sleep(pause)
                else:
                    log.debug("webhook capture of %s: %s", transcript_id, outcome)
                    return
        finally:
            self._in_flight.discard(transcript_id)
            self.settled.set()
            self.settled = anyio.Event()

    async def capture_once(self, transcript_id: str) -> Outcome:
        """Fetch and store one transcript; what ended (stored, failed job, gone upstream) leaves the
        pending list, what is still unfinished stays on it (its own webhook comes later)."""
        async with self._limit:
            transcript = await self._fetcher.transcript({"id": transcript_id})
        outcome: Outcome
        if transcript is None:
            outcome = "gone"
        elif transcript.status in UNFINISHED:
            return "unfinished"
        elif transcript.status == "completed":
            self.archive.upsert(transcript)
            outcome = "stored"
        else:
            outcome = "job-error"  # as `archive sync`: failed jobs are not archived
        self.archive.drop_pending(transcript_id)
        return outcome


def _reason(exc: BaseException) -> str:
    """What failed, without the message (a driver's may quote a connection URL)."""
    if isinstance(exc, UpstreamError):
        return f"upstream {exc.status or exc.kind.value}"
    return type(exc).__name__
