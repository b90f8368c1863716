"""What instances tell each other through Redis pub/sub: who polls a transcript and what it saw (poll
leases), and plain channels for other parts (best effort: news is lost while Redis is down)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from aai_mcp.state.shared import Message
from aai_mcp.state.shared_redis_breaker import UNREACHABLE, Unreachable

if TYPE_CHECKING:
    from aai_mcp.state.shared_redis import RedisState

# Only the holder (its token as the value) may renew or drop a lease; a lapsed one is anyone's.
RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
DROP_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
LEFT: Message = {"left": True}
SUBSCRIPTION_WAIT_SECONDS = 30.0


def decoded(data: Any) -> Message | None:
    """A published message, or None for anything that is not a JSON object."""
    try:
        message = orjson.loads(data)
    except (orjson.JSONDecodeError, TypeError):
        return None
    return message if isinstance(message, dict) else None


class PubSubReader:
    """One channel's subscription, made again on demand after Redis went away."""

    def __init__(self, state: RedisState, channel: str) -> None:
        self._state = state
        self.channel = channel
        self._pubsub: PubSub | None = None

    async def ready(self) -> PubSub:
        """Subscribed (Unreachable when Redis is down)."""
        if self._pubsub is None:
            pubsub = self._state.client.pubsub()
            try:
                await self._state.run(lambda _: pubsub.subscribe(self.channel))
            except Unreachable:
                await _quietly_closed(pubsub)
                raise
            self._pubsub = pubsub
        return self._pubsub

    async def next(self, timeout: float) -> Message | None:
        """The next message within `timeout` seconds, else None (after the whole timeout, also when
        Redis is down, so a caller looping on this never spins)."""
        deadline = anyio.current_time() + timeout
        try:
            pubsub = await self.ready()
            while (left := deadline - anyio.current_time()) > 0:
                raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
                if raw is not None and raw.get("type") == "message":
                    message = decoded(raw["data"])
                    if message is not None:
                        return message
            return None
        except Unreachable:
            pass
        except UNREACHABLE as exc:
            self._state.breaker.trip(exc)
            await self.close()
        await anyio.sleep(max(0.0, deadline - anyio.current_time()))
        return None

    async def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _quietly_closed(pubsub)


async def _quietly_closed(pubsub: PubSub) -> None:
    try:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
    except UNREACHABLE:
        pass


class RedisPollLease:
    """SET NX PX claims the lease; the holder renews it before each pause, so it lapses (and another
    instance takes over) only when the holder stopped: it died, or its waiters all left."""

    def __init__(self, state: RedisState, key: str) -> None:
        self._state = state
        self.key = key
        self._token = f"{state.owner}:{secrets.token_hex(4)}"
        self._news = PubSubReader(state, key + ":news")
        self.leading = False

    async def lead(self, ttl: float) -> bool:
        try:
            await self._news.ready()  # first, so nothing announced after a failed claim is missed
            self.leading = await self._state.run(lambda client: self._claim(client, int(ttl * 1000)))
        except Unreachable:
            self.leading = False
            return True  # Redis is down: poll on our own, as one instance alone would
        return self.leading

    async def _claim(self, client: Redis, ttl_ms: int) -> bool:
        if self.leading and await self._state.renew_lease(keys=[self.key], args=[self._token, ttl_ms]):
            return True
        return bool(await client.set(self.key, self._token, nx=True, px=ttl_ms))

    async def announce(self, message: Message) -> None:
        data = orjson.dumps(message)
        try:
            await self._state.run(lambda client: client.publish(self._news.channel, data))
        except Unreachable:
            pass  # the others will find the lease lapsed and poll themselves

    async def observe(self, timeout: float) -> Message | None:
        return await self._news.next(timeout)

    async def close(self) -> None:
        """Drop the lease if held and say so, so a waiting instance takes over at once."""
        if self.leading:
            self.leading = False
            try:
                await self._state.run(lambda _: self._state.drop_lease(keys=[self.key], args=[self._token]))
            except Unreachable:
                pass
            await self.announce(LEFT)
        await self._news.close()


class Subscription:
    def __init__(self, state: RedisState, channel: str) -> None:
        self._reader = PubSubReader(state, channel)

    async def start(self) -> None:
        try:
            await self._reader.ready()
        except Unreachable:
            pass  # subscribed again on the first read once Redis is back

    async def messages(self) -> AsyncIterator[Message]:
        while True:
            message = await self._reader.next(SUBSCRIPTION_WAIT_SECONDS)
            if message is not None:
                yield message

    async def close(self) -> None:
        await self._reader.close()
