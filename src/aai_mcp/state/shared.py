"""Ephemeral state every instance shares but nobody needs after a restart: who polls which transcript,
how many calls each token has running, a channel for news between instances, and short-lived blobs
(speech clips) any instance can hand back.

In-process by default (`shared_memory`); Redis or Valkey when `redis_url` is set (`shared_redis`),
which falls back to in-process behaviour while Redis cannot be reached: every instance then limits and
polls on its own, and /healthz says `"shared_state": "degraded"`. Nothing here refuses a call because
the shared engine is down.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aai_mcp.config.settings import Settings

Status = Literal["in-process", "redis", "degraded"]
Message = dict[str, Any]


@dataclass(frozen=True)
class Hold:
    """One concurrent-call place, given back with `SharedState.release`."""

    key: str
    member: str
    shared: bool
    """Taken in the shared engine (else in this process, which is where it must be given back)."""


@dataclass(frozen=True)
class WindowCount:
    """Hits counted in the current fixed window of a rate, this one included."""

    count: int
    reset_seconds: float
    """Until the window ends and the count starts again from zero."""


class PollLease(Protocol):
    """The right to poll one transcript upstream, held by one instance at a time.

    The holder polls and `announce`s what it saw; the others `observe` and try to `lead` again when
    nothing came for a while (the holder may have died: its lease then lapses)."""

    async def lead(self, ttl: float) -> bool:
        """Claim the lease, or renew it for `ttl` seconds when this instance holds it; True while it
        does (always, in-process)."""
        ...

    async def announce(self, message: Message) -> None:
        """Tell the other instances' waiters what the last poll saw."""
        ...

    async def observe(self, timeout: float) -> Message | None:
        """The next message the leader announced, or None after `timeout` seconds without one."""
        ...


class SharedState(Protocol):
    @property
    def status(self) -> Status:
        """For /healthz: in-process, redis, or degraded (Redis configured but unreachable)."""
        ...

    def running(self) -> AbstractAsyncContextManager[None]:
        """Background upkeep (renewing this instance's holds) for as long as the server runs."""
        ...

    async def try_hold(self, key: str, limit: int) -> Hold | None:
        """Take one of `limit` places counted under `key`, or None when all are taken."""
        ...

    async def release(self, hold: Hold) -> None: ...

    async def count_hit(self, key: str, window_seconds: float) -> WindowCount:
        """Count one hit under `key` in the current fixed window of `window_seconds` (windows are
        aligned on the clock, so every instance counts into the same one)."""
        ...

    def poll_lease(self, name: str) -> AbstractAsyncContextManager[PollLease]:
        """The lease on polling `name` (the caller's partition and the transcript id)."""
        ...

    async def publish(self, channel: str, message: Message) -> None:
        """Send `message` to every subscriber of `channel`, on every instance (best effort)."""
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[Message]]:
        """Messages published on `channel` from now on, until the context ends."""
        ...

    async def put_blob(self, key: str, data: bytes, ttl_seconds: float) -> None:
        """Keep `data` under `key` for `ttl_seconds`, for every instance to read (held briefly: the
        in-process store drops the oldest first beyond its byte bound)."""
        ...

    async def get_blob(self, key: str) -> bytes | None:
        """What `put_blob` kept under `key`; None once it expired, was dropped, or never was."""
        ...

    async def aclose(self) -> None: ...


def instance_owner(settings: Settings) -> str:
    """How this process names itself in shared state: its instance id, else a random name."""
    return settings.instance_id or f"aai-mcp-{secrets.token_hex(4)}"


def build_shared_state(settings: Settings) -> SharedState:
    """Redis when a URL is configured, else in-process; neither connects before its first use."""
    from aai_mcp.state.shared_memory import InProcessState

    if settings.redis_url is None:
        return InProcessState()
    from aai_mcp.state.shared_redis import RedisState

    return RedisState(settings.redis_url.get_secret_value(), owner=instance_owner(settings))
