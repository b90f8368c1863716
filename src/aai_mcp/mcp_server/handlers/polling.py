"""Waiting for transcript jobs: every waiter on one transcript shares one upstream poll loop, in this
process and, with shared state in Redis, across every instance."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from aai_mcp.mcp_server.runtime.tool_call import ProgressFn
from aai_mcp.state.shared import PollLease, SharedState
from aai_mcp.state.shared_memory import InProcessState
from aai_mcp.upstream import UpstreamError

TERMINAL = frozenset({"completed", "error"})
Fetch = Callable[[str], Awaitable[dict[str, Any]]]
# How long past its longest pause a poll lease lasts: room for one slow upstream answer.
LEASE_MARGIN_SECONDS = 10.0


@dataclass(frozen=True)
class ExpectedWebhook:
    """The gateway's webhook URL, and the slower poll interval of a transcript that carries it."""

    url: str
    interval: float


@dataclass(frozen=True)
class WaitOutcome:
    transcript: dict[str, Any]
    waited_seconds: float
    timed_out: bool


@dataclass
class _Watch:
    """The shared state of one transcript's poll loop."""

    interval: float
    fetch: Fetch
    partition: str
    latest: dict[str, Any] | None = None
    error: UpstreamError | None = None
    version: int = 0
    leader: bool = False
    waiters: int = 0
    changed: anyio.Event = field(default_factory=anyio.Event)
    woken: anyio.Event = field(default_factory=anyio.Event)
    """Set by a webhook's news: the leader polls at once instead of finishing its pause."""

    def publish(self, latest: dict[str, Any] | None, error: UpstreamError | None) -> None:
        self.latest, self.error = latest, error
        self.version += 1
        self.notify()

    def notify(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    @property
    def finished(self) -> bool:
        return self.latest is not None and self.latest.get("status") in TERMINAL


class TranscriptPoller:
    """One poll loop per transcript, run by one of its waiters (the leader) and watched by the rest.

    When the leader leaves (its own timeout, or the client cancelled), another waiter takes over;
    when the last waiter leaves, polling stops. A poll that fails (a 429, say) ends every wait.
    Across instances, each one's leader polls only while it holds the transcript's poll lease, and
    otherwise passes on what the lease holder announces.
    """

    def __init__(
        self,
        first_interval: float,
        max_interval: float,
        shared: SharedState | None = None,
        webhook: ExpectedWebhook | None = None,
    ) -> None:
        self._first_interval = first_interval
        self._max_interval = max_interval
        self._webhook = webhook
        self._shared: SharedState = shared or InProcessState()
        longest = max(max_interval, webhook.interval if webhook else 0.0)
        self._lease_ttl = longest * 1.2 + LEASE_MARGIN_SECONDS
        self._watches: dict[tuple[str, str], _Watch] = {}
        self._waits: set[anyio.CancelScope] = set()
        self._stopped = False

    def stop(self) -> None:
        """The server is shutting down: every wait returns what it has now, as if it timed out."""
        self._stopped = True
        for scope in self._waits:
            scope.cancel()

    @contextmanager
    def _stoppable(self) -> Iterator[None]:
        with anyio.CancelScope() as scope:
            if self._stopped:
                scope.cancel()
            self._waits.add(scope)
            try:
                yield
            finally:
                self._waits.discard(scope)

    def wake(self, transcript_id: str) -> None:
        """A webhook said `transcript_id` finished: its poll loops (every caller's) poll now."""
        for (_, polled), watch in list(self._watches.items()):
            if polled == transcript_id:
                watch.woken.set()

    def polling(self) -> list[str]:
        """Transcripts that have a poll loop right now (for health checks and tests)."""
        return [transcript_id for _, transcript_id in self._watches]

    def waiting(self) -> int:
        """Waits in flight right now, all transcripts together (a metric)."""
        return sum(watch.waiters for watch in list(self._watches.values()))

    def waiters(self, transcript_id: str) -> int:
        """How many waits are watching this transcript right now (for tests)."""
        return sum(
            watch.waiters for (_, polled), watch in list(self._watches.items()) if polled == transcript_id
        )

    async def wait(
        self, transcript_id: str, timeout: float, progress: ProgressFn, fetch: Fetch, partition: str = ""
    ) -> WaitOutcome:
        """Wait for one transcript; waiters share a loop only within one `partition` (one API key)."""
        key = (partition, transcript_id)
        watch = self._watches.setdefault(key, _Watch(self._first_interval, fetch, partition))
        watch.waiters += 1
        started = time.monotonic()
        try:
            with self._stoppable():
                await self._follow_or_lead(transcript_id, watch, started, started + timeout, progress)
            if watch.latest is None:
                watch.latest = await watch.fetch(transcript_id)
        finally:
            watch.waiters -= 1
            if watch.waiters == 0 and self._watches.get(key) is watch:
                del self._watches[key]
        waited = round(time.monotonic() - started, 1)
        return WaitOutcome(dict(watch.latest), waited, timed_out=not watch.finished)

    async def _follow_or_lead(
        self, transcript_id: str, watch: _Watch, started: float, deadline: float, progress: ProgressFn
    ) -> None:
        seen = watch.version
        while not watch.finished and time.monotonic() < deadline:
            if not watch.leader:
                await self._lead(transcript_id, watch, started, deadline, progress)
                return
            changed = watch.changed
            with anyio.move_on_after(deadline - time.monotonic()):
                await changed.wait()
            if watch.version != seen:
                seen = watch.version
                if watch.error is not None:
                    raise watch.error
                await _report(watch, started, deadline, progress)

    async def _lead(
        self, transcript_id: str, watch: _Watch, started: float, deadline: float, progress: ProgressFn
    ) -> None:
        watch.leader = True
        try:
            async with self._shared.poll_lease(f"{watch.partition}:{transcript_id}") as lease:
                await self._poll_or_follow(lease, transcript_id, watch, started, deadline, progress)
        finally:
            watch.leader = False
            watch.notify()  # a waiting follower takes over if it still has time

    async def _poll_or_follow(
        self,
        lease: PollLease,
        transcript_id: str,
        watch: _Watch,
        started: float,
        deadline: float,
        progress: ProgressFn,
    ) -> None:
        """Poll while this instance holds the lease; otherwise relay what the holder announces."""
        while not watch.finished and (remaining := deadline - time.monotonic()) > 0:
            if await lease.lead(self._lease_ttl):
                await _poll(lease, transcript_id, watch)
                await _report(watch, started, deadline, progress)
                if watch.finished:
                    return
                pause = self._pause(watch) * random.uniform(0.8, 1.2)
                with anyio.move_on_after(max(0.0, min(pause, deadline - time.monotonic()))):
                    await watch.woken.wait()
                watch.woken = anyio.Event()
            else:
                news = await lease.observe(min(watch.interval * random.uniform(0.8, 1.2), remaining))
                if _relay(news, watch):
                    await _report(watch, started, deadline, progress)

    def _pause(self, watch: _Watch) -> float:
        """Until the next poll: backing off to the longest interval; a transcript that will announce
        itself by webhook (it carries the gateway's) is polled only as a safety net, at the webhook
        interval (the webhook wakes the loop at once)."""
        if self._webhook is not None and (watch.latest or {}).get("webhook_url") == self._webhook.url:
            return self._webhook.interval
        pause = watch.interval
        watch.interval = min(watch.interval * 1.5, self._max_interval)
        return pause


async def _poll(lease: PollLease, transcript_id: str, watch: _Watch) -> None:
    try:
        latest = await watch.fetch(transcript_id)
    except UpstreamError as exc:
        watch.publish(watch.latest, exc)
        # The others cannot be handed the error itself: the lease is dropped, and they poll themselves.
        await lease.announce({"failed": True})
        raise
    watch.publish(latest, None)
    await lease.announce({"transcript": latest})


def _relay(news: dict[str, Any] | None, watch: _Watch) -> bool:
    """Whether the lease holder's news changed what this instance's waiters know."""
    transcript = (news or {}).get("transcript")
    if not isinstance(transcript, dict):
        return False  # nothing yet, or the holder left or failed: try to lead at once
    watch.publish(transcript, None)
    return True


async def _report(watch: _Watch, started: float, deadline: float, progress: ProgressFn) -> None:
    """Progress is this waiter's elapsed seconds out of its timeout, so it only ever grows."""
    status = (watch.latest or {}).get("status", "unknown")
    elapsed = time.monotonic() - started
    await progress(round(elapsed, 2), round(deadline - started, 2), f"status {status} after {elapsed:.0f}s")
