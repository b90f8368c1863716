"""Shared state within one process: the default, and what Redis falls back to while it is down."""

from __future__ import annotations

import itertools
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from aai_mcp.state.shared import Hold, Message, Status, WindowCount

# Messages a slow subscriber may fall behind by before newer ones are dropped for it.
SUBSCRIBER_BUFFER = 64
# Blobs held at once in one process (speech clips); beyond it the oldest go first.
MAX_BLOB_BYTES = 64 * 1024 * 1024


class AlwaysLeads:
    """In one process, waiters already share one loop (the poller's own bookkeeping): no one to ask."""

    async def lead(self, ttl: float) -> bool:
        return True

    async def announce(self, message: Message) -> None:
        return None

    async def observe(self, timeout: float) -> Message | None:
        await anyio.sleep(timeout)
        return None


class InProcessState:
    def __init__(self, max_blob_bytes: int = MAX_BLOB_BYTES) -> None:
        self._held: Counter[str] = Counter()
        self._members = itertools.count()
        self._subscribers: defaultdict[str, set[MemoryObjectSendStream[Message]]] = defaultdict(set)
        self._windows: dict[str, tuple[float, int]] = {}
        self._blobs: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._blob_bytes = 0
        self._max_blob_bytes = max_blob_bytes
        self.clock = time.time

    @property
    def status(self) -> Status:
        return "in-process"

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        yield

    async def try_hold(self, key: str, limit: int) -> Hold | None:
        return self.try_hold_now(key, limit)

    def try_hold_now(self, key: str, limit: int) -> Hold | None:
        """Checked and taken without awaiting, so two calls can never both take the last place."""
        if self._held[key] >= limit:
            return None
        self._held[key] += 1
        return Hold(key, str(next(self._members)), shared=False)

    async def release(self, hold: Hold) -> None:
        self.release_now(hold)

    def release_now(self, hold: Hold) -> None:
        self._held[hold.key] -= 1
        if self._held[hold.key] <= 0:
            del self._held[hold.key]

    async def count_hit(self, key: str, window_seconds: float) -> WindowCount:
        return self.count_hit_now(key, window_seconds)

    def count_hit_now(self, key: str, window_seconds: float) -> WindowCount:
        now = self.clock()
        start = now - now % window_seconds
        began, count = self._windows.get(key, (start, 0))
        if began != start:
            count = 0
            # A new window: counts of windows gone by are dropped, so the table holds live keys only.
            self._windows = {name: entry for name, entry in self._windows.items() if entry[0] >= start}
        self._windows[key] = (start, count + 1)
        return WindowCount(count + 1, start + window_seconds - now)

    def held(self, key: str) -> int:
        """Places taken under `key` right now (for tests)."""
        return self._held[key]

    @asynccontextmanager
    async def poll_lease(self, name: str) -> AsyncIterator[AlwaysLeads]:
        yield AlwaysLeads()

    async def publish(self, channel: str, message: Message) -> None:
        for stream in list(self._subscribers[channel]):
            try:
                stream.send_nowait(message)
            except anyio.WouldBlock:
                pass  # a subscriber that does not keep up loses news, it never blocks the publisher

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Message]]:
        send, receive = anyio.create_memory_object_stream[Message](SUBSCRIBER_BUFFER)
        self._subscribers[channel].add(send)
        try:
            with send, receive:
                yield receive
        finally:
            self._subscribers[channel].discard(send)
            if not self._subscribers[channel]:
                del self._subscribers[channel]

    async def put_blob(self, key: str, data: bytes, ttl_seconds: float) -> None:
        self.put_blob_now(key, data, ttl_seconds)

    def put_blob_now(self, key: str, data: bytes, ttl_seconds: float) -> None:
        self._forget_expired_blobs()
        self._drop_blob(key)
        self._blobs[key] = (self.clock() + ttl_seconds, data)
        self._blob_bytes += len(data)
        # The newest always stays, even alone over the bound: its maker is about to read it.
        while self._blob_bytes > self._max_blob_bytes and len(self._blobs) > 1:
            self._drop_blob(next(iter(self._blobs)))

    async def get_blob(self, key: str) -> bytes | None:
        return self.get_blob_now(key)

    def get_blob_now(self, key: str) -> bytes | None:
        self._forget_expired_blobs()
        held = self._blobs.get(key)
        return None if held is None else held[1]

    def _forget_expired_blobs(self) -> None:
        now = self.clock()
        for key in [key for key, (expires_at, _) in self._blobs.items() if expires_at <= now]:
            self._drop_blob(key)

    def _drop_blob(self, key: str) -> None:
        held = self._blobs.pop(key, None)
        if held is not None:
            self._blob_bytes -= len(held[1])

    async def aclose(self) -> None:
        return None
