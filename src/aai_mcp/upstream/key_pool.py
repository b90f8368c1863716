"""Which of an account's upstream keys a request goes out with: the key that made the resource it
follows up (affinity), else the least-loaded usable key by weight.

A key cools down after a 429 for its Retry-After and is taken out after a 401/403 until an operator
enables it (`aai-mcp keys enable`). Both states and the affinity live in the durable store, so every
instance agrees and a restart forgets nothing; each instance keeps a copy of the key states
(key_states.py) and of the owners it has seen, so choosing a key reads no store on the way.
Only key names are ever logged or counted.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import anyio

from aai_mcp.access.accounts import PoolKey
from aai_mcp.state.shared import SharedState
from aai_mcp.state.store import KeyPoolStore, KeyState, failure_reason, store_errors
from aai_mcp.upstream.key_states import REFRESH_SECONDS, KeyStates

if TYPE_CHECKING:  # aai_mcp.metrics imports upstream.errors, which runs this package's __init__ first
    from aai_mcp.metrics import Metrics

# A 429 without Retry-After: long enough not to hammer the key, short enough to come back soon.
DEFAULT_COOLDOWN_SECONDS = 30.0
# Owners of the resources this instance has seen (an owner never changes): enough for a busy day's
# follow-ups without a store read, small enough to be no memory concern (~100 bytes each).
OWNERS_KEPT = 10_000
log = logging.getLogger("aai_mcp.key_pool")
T = TypeVar("T")


class NoUsableKey(Exception):
    """Every key this request may use is cooling down or taken out."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Choice:
    key: PoolKey
    pinned: bool
    """The key made the resource this request follows up: no other key may be tried."""


class KeyPool:
    """The pools of every account, their shared state in `store`."""

    def __init__(
        self,
        pools: dict[str, list[PoolKey]],
        store: KeyPoolStore,
        clock: Callable[[], float] = time.time,
        shared: SharedState | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        metrics: Metrics | None = None,
    ) -> None:
        """`shared`: where changes are published to the other instances (None: nowhere, they then
        learn within `refresh_seconds`); `metrics`: where key events are counted."""
        self.pools = pools
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.states = KeyStates(store, shared, refresh_seconds)
        self.in_flight: Counter[str] = Counter()
        self._owners: OrderedDict[str, str] = OrderedDict()

    def serves(self, account: str) -> bool:
        return bool(self.pools.get(account))

    def key_names(self) -> list[str]:
        return [key.name for pool in self.pools.values() for key in pool]

    async def choose(
        self, account: str, resource_id: str | None, tried: frozenset[str] = frozenset()
    ) -> Choice:
        """The key for a request of `account`; NoUsableKey when none may be used now."""
        pool = self.pools[account]
        states = await self.states.current()
        now = self.clock()
        owner = await self._owner(pool, resource_id)
        if owner is not None:
            return Choice(_usable_or_raise(owner, states.get(owner.name), now), pinned=True)
        usable = [key for key in pool if key.name not in tried and _wait(states.get(key.name), now) == 0]
        if not usable:
            waits = [_wait(states.get(key.name), now) for key in pool]
            known = [wait for wait in waits if wait is not None]
            retry = max(min(known), 1.0) if known else None
            raise NoUsableKey(
                f"every AssemblyAI key of account {account!r} is cooling down or disabled", retry
            )
        return Choice(min(usable, key=self._load), pinned=False)

    def _load(self, key: PoolKey) -> tuple[float, int]:
        return (self.in_flight[key.name] + 1) / key.weight, -key.weight

    async def _owner(self, pool: list[PoolKey], resource_id: str | None) -> PoolKey | None:
        if resource_id is None:
            return None
        name = self._owners.get(resource_id)
        if name is None:
            # Unknown owners are not kept: another instance may make or list the resource later.
            name = await self._read(lambda: self.store.resource_key(resource_id), None)
            if name is not None:
                self._keep_owners([resource_id], name)
        # A resource another account made is not ours to pin: upstream answers it as unknown.
        return next((key for key in pool if key.name == name), None)

    def _keep_owners(self, resource_ids: list[str], name: str) -> None:
        for resource_id in resource_ids:
            self._owners[resource_id] = name
            self._owners.move_to_end(resource_id)
        while len(self._owners) > OWNERS_KEPT:
            self._owners.popitem(last=False)

    def event(self, key: PoolKey | None, event: str) -> None:
        """Count a key event (rate_limited, refused, failover, no_usable_key) by key name."""
        if self.metrics is not None:
            self.metrics.key_event(None if key is None else key.name, event)

    @asynccontextmanager
    async def following(self) -> AsyncIterator[None]:
        """Hear the other instances' key state changes while the block runs (the server's lifespan)."""
        async with anyio.create_task_group() as tasks:
            await tasks.start(self.states.follow)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()

    @contextmanager
    def using(self, key: PoolKey) -> Iterator[None]:
        """Counts a request in flight on `key` (the least-loaded policy reads it)."""
        self.in_flight[key.name] += 1
        try:
            yield
        finally:
            self.in_flight[key.name] -= 1

    async def rate_limited(self, key: PoolKey, retry_after: float | None) -> None:
        seconds = DEFAULT_COOLDOWN_SECONDS if retry_after is None else retry_after
        log.warning("key pool: %s answered 429, cooling down for %.0f s", key.name, seconds)
        self.event(key, "rate_limited")
        await self.states.cool(key.name, self.clock() + seconds)

    async def refused(self, key: PoolKey, status: int) -> None:
        log.warning(
            "key pool: %s refused with %d, disabled until `aai-mcp keys enable %s`",
            key.name,
            status,
            key.name,
        )
        self.event(key, "refused")
        await self.states.disable(key.name, f"upstream answered {status}")

    async def remember(self, resource_ids: list[str], key: PoolKey) -> None:
        """Resources `key` made: their follow-ups go out with it, on every instance."""
        if resource_ids:
            self._keep_owners(resource_ids, key.name)
            await self._write(lambda: self.store.record_resource_key(resource_ids, key.name))

    async def _read(self, read: Callable[[], T], fallback: T) -> T:
        try:
            return await anyio.to_thread.run_sync(read)
        except store_errors() as exc:
            # The pool still picks a key without the store; affinity is then unknown (upstream may 404).
            log.warning("key pool: the store could not be read: %s", failure_reason(exc))
            return fallback

    async def _write(self, write: Callable[[], None]) -> None:
        try:
            await anyio.to_thread.run_sync(write)
        except store_errors() as exc:
            log.warning("key pool: the store could not be written: %s", failure_reason(exc))


def _wait(state: KeyState | None, now: float) -> float | None:
    """Seconds until the key may be used (0: now), None when only an operator can bring it back."""
    if state is None:
        return 0.0
    if state.disabled:
        return None
    if state.cooling_until is None or state.cooling_until <= now:
        return 0.0
    return math.ceil(state.cooling_until - now)


def _usable_or_raise(key: PoolKey, state: KeyState | None, now: float) -> PoolKey:
    wait = _wait(state, now)
    if wait == 0:
        return key
    what = "is disabled" if wait is None else "is cooling down"
    # The resource belongs to this key's AssemblyAI account: another key would not find it.
    raise NoUsableKey(f"the key that made this resource ({key.name}) {what}", wait)
