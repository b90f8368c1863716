"""Shared state in Redis (or Valkey): call places, poll leases and short-lived blobs every instance sees.

Each concurrent-call place is a member of a sorted set scored by when it lapses, taken by a script
that first drops lapsed members: an instance that crashes mid-call leaks its places only until
their lease runs out (`hold_ttl`), while a live instance renews the leases of the calls it runs.

While Redis cannot be reached, every operation falls back to this process's own state and the
status says `degraded`; Redis is tried again after `RETRY_SECONDS`. The URL is never logged as given
(it may hold a password), and neither are Redis's error texts (they name the host).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TypeVar

import anyio
import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from aai_mcp.state.shared import Hold, Message, Status, WindowCount
from aai_mcp.state.shared_memory import InProcessState
from aai_mcp.state.shared_redis_breaker import UNREACHABLE, Breaker, Unreachable, redacted_url
from aai_mcp.state.shared_redis_channels import DROP_LEASE, RENEW_LEASE, RedisPollLease, Subscription

log = logging.getLogger("aai_mcp.shared_state")

PREFIX = "aai-mcp:"
DEFAULT_HOLD_TTL_SECONDS = 30.0
T = TypeVar("T")

# Redis's own clock (TIME), not each instance's: lease deadlines compare across machines.
_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "
TAKE_PLACE = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
)
RENEW_PLACES = (
    _NOW_MS
    + """
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""
)

# A fixed window aligned on Redis's clock: every instance counts into the same key for the same minute.
COUNT_HIT = (
    _NOW_MS
    + """
local window = tonumber(ARGV[1])
local start = now - (now % window)
local key = KEYS[1] .. ':' .. start
local count = redis.call('INCR', key)
if count == 1 then redis.call('PEXPIRE', key, window) end
return {count, start + window - now}
"""
)


class RedisState:
    def __init__(self, url: str, owner: str, hold_ttl: float = DEFAULT_HOLD_TTL_SECONDS) -> None:
        self.client = Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=5,
            # One quick retry on a fresh connection (Redis restarted); no backoff: a call must not wait.
            retry=Retry(NoBackoff(), 1),
        )
        self.owner = owner
        self.hold_ttl = hold_ttl
        self.breaker = Breaker()
        self.local = InProcessState()
        self._take = self.client.register_script(TAKE_PLACE)
        self._renew = self.client.register_script(RENEW_PLACES)
        self._count_hit = self.client.register_script(COUNT_HIT)
        self.renew_lease = self.client.register_script(RENEW_LEASE)
        self.drop_lease = self.client.register_script(DROP_LEASE)
        self._holds = 0
        self._live: defaultdict[str, set[str]] = defaultdict(set)
        log.info("shared state: Redis at %s", redacted_url(url))

    @property
    def status(self) -> Status:
        return "degraded" if self.breaker.degraded else "redis"

    async def run(self, work: Callable[[Redis], Awaitable[T]]) -> T:
        """`work` against Redis; Unreachable when Redis is down or was a moment ago."""
        if self.breaker.open():
            raise Unreachable
        try:
            result = await work(self.client)
        except UNREACHABLE as exc:
            self.breaker.trip(exc)
            raise Unreachable from None
        self.breaker.reset()
        return result

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            group.start_soon(self._keep_holds)
            try:
                yield
            finally:
                group.cancel_scope.cancel()

    async def _keep_holds(self) -> None:
        while True:
            await anyio.sleep(self.hold_ttl / 3)
            await self.renew_holds()

    async def renew_holds(self) -> None:
        """Push back the lapse of every place this instance holds (a crashed one stops doing this)."""
        ttl = str(int(self.hold_ttl * 1000))
        for key, members in list(self._live.items()):
            if not members:
                continue
            try:
                await self.run(partial(self._renew_places, key, [ttl, *members]))
            except Unreachable:
                return

    async def _renew_places(self, key: str, args: list[str], client: Redis) -> object:
        return await self._renew(keys=[key], args=args, client=client)

    async def try_hold(self, key: str, limit: int) -> Hold | None:
        self._holds += 1
        hold = Hold(PREFIX + "calls:" + key, f"{self.owner}:{self._holds}", shared=True)
        args: list[str | int] = [limit, hold.member, int(self.hold_ttl * 1000)]
        try:
            taken = await self.run(lambda _: self._take(keys=[hold.key], args=args))
        except Unreachable:
            return self.local.try_hold_now(key, limit)
        if not taken:
            return None
        self._live[hold.key].add(hold.member)
        return hold

    async def release(self, hold: Hold) -> None:
        if not hold.shared:
            self.local.release_now(hold)
            return
        self._live[hold.key].discard(hold.member)
        if not self._live[hold.key]:
            del self._live[hold.key]
        # Shielded: a cancelled call gives its place back too. Unreachable: it lapses on its own.
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            try:
                await self.run(lambda client: client.zrem(hold.key, hold.member))
            except Unreachable:
                pass

    async def count_hit(self, key: str, window_seconds: float) -> WindowCount:
        window_ms = max(1, int(window_seconds * 1000))
        try:
            count, reset_ms = await self.run(
                lambda _: self._count_hit(keys=[PREFIX + "rate:" + key], args=[window_ms])
            )
        except Unreachable:
            return self.local.count_hit_now(key, window_seconds)
        return WindowCount(int(count), int(reset_ms) / 1000)

    @asynccontextmanager
    async def poll_lease(self, name: str) -> AsyncIterator[RedisPollLease]:
        lease = RedisPollLease(self, PREFIX + "poll:" + name)
        try:
            yield lease
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await lease.close()

    async def publish(self, channel: str, message: Message) -> None:
        # Best effort: while Redis is down the message is lost (subscribers must not depend on it).
        data = orjson.dumps(message)
        try:
            await self.run(lambda client: client.publish(PREFIX + "channel:" + channel, data))
        except Unreachable:
            pass

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Message]]:
        subscription = Subscription(self, PREFIX + "channel:" + channel)
        await subscription.start()
        try:
            yield subscription.messages()
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await subscription.close()

    async def put_blob(self, key: str, data: bytes, ttl_seconds: float) -> None:
        # Redis expires it (PX) on its own clock; while Redis is down it stays in this process only.
        ttl_ms = max(1, int(ttl_seconds * 1000))
        try:
            await self.run(lambda client: client.set(PREFIX + "blob:" + key, data, px=ttl_ms))
        except Unreachable:
            self.local.put_blob_now(key, data, ttl_seconds)

    async def get_blob(self, key: str) -> bytes | None:
        try:
            found = await self.run(lambda client: client.get(PREFIX + "blob:" + key))
        except Unreachable:
            found = None
        # Not in Redis: it may have been kept here while Redis was down, still this instance's to hand back.
        return found if isinstance(found, bytes) else self.local.get_blob_now(key)

    async def aclose(self) -> None:
        await self.client.aclose()
