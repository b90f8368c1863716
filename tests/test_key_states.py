"""Each instance's copy of the key states: choosing a key reads the store at most once per refresh
interval (not per request); this instance's own changes count at once; a change made elsewhere and
published nowhere is seen within the refresh interval; news is applied as the store would apply it."""

from __future__ import annotations

from typing import Never

import pytest
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from aai_mcp.access.accounts import PoolKey
from aai_mcp.state.store import KeyState
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.upstream.key_pool import KeyPool, NoUsableKey
from aai_mcp.upstream.key_states import REFRESH_SECONDS, KeyStates, enabled_message

pytestmark = pytest.mark.anyio
A = PoolKey("team/A", "team", SecretStr("a" * 32))
B = PoolKey("team/B", "team", SecretStr("b" * 32))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """The store, counting how often the key states are read."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.reads = 0
        self.down = False

    def key_states(self) -> dict[str, KeyState]:
        self.reads += 1
        if self.down:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return self.store.key_states()

    def cool_key(self, name: str, until: float) -> None:
        self.store.cool_key(name, until)

    def disable_key(self, name: str, reason: str) -> None:
        self.store.disable_key(name, reason)

    def enable_key(self, name: str) -> bool:
        return self.store.enable_key(name)

    def record_resource_key(self, resource_ids: list[str], name: str) -> None:
        self.store.record_resource_key(resource_ids, name)

    def resource_key(self, resource_id: str) -> str | None:
        return self.store.resource_key(resource_id)


def counted_pool(store: SqlStore) -> tuple[KeyPool, CountingStore, Clock]:
    counting, clock = CountingStore(store), Clock()
    pool = KeyPool({"team": [A, B]}, counting)
    pool.states.monotonic = clock
    return pool, counting, clock


async def test_requests_read_the_store_once_per_refresh_not_once_each(store: SqlStore) -> None:
    pool, counting, clock = counted_pool(store)
    for _ in range(50):
        await pool.choose("team", None)
    assert counting.reads == 1
    clock.now += REFRESH_SECONDS
    await pool.choose("team", None)
    assert counting.reads == 2


async def test_a_change_published_nowhere_is_seen_within_the_refresh(store: SqlStore) -> None:
    pool, counting, clock = counted_pool(store)
    assert (await pool.choose("team", None)).key == A
    store.disable_key("team/A", "upstream answered 401")  # another process, no Redis
    clock.now += REFRESH_SECONDS - 0.5
    assert (await pool.choose("team", None)).key == A  # not known yet: the bound is the refresh
    clock.now += 0.5
    assert (await pool.choose("team", None)).key == B
    store.enable_key("team/A")  # `aai-mcp keys enable` without Redis
    clock.now += REFRESH_SECONDS
    assert (await pool.choose("team", None)).key == A
    assert counting.reads == 3


async def test_this_instances_own_changes_count_at_once(store: SqlStore) -> None:
    pool, counting, _ = counted_pool(store)
    await pool.choose("team", None)
    await pool.rate_limited(A, 30)
    assert (await pool.choose("team", None)).key == B
    await pool.refused(B, 403)
    with pytest.raises(NoUsableKey) as raised:
        await pool.choose("team", None)
    assert 29 <= (raised.value.retry_after or 0) <= 30
    assert counting.reads == 1
    assert store.key_states()["team/B"].disabled_reason == "upstream answered 403"  # and the store has it


async def test_news_is_applied_as_the_store_applies_it() -> None:
    states = KeyStates(DownStore(), None)
    states.apply({"key": "team/A", "state": "cooling", "until": 2000.0})
    states.apply({"key": "team/A", "state": "cooling", "until": 1500.0})  # never shortened
    states.apply({"key": "team/A", "state": "disabled", "reason": "upstream answered 401"})
    states.apply({"key": "team/A", "state": "disabled", "reason": "upstream answered 403"})
    assert states.known("team/A") == KeyState("team/A", 2000.0, "upstream answered 401")
    for malformed in ({"key": 7}, {"key": "team/A", "state": "cooling", "until": True}, {"state": "enabled"}):
        states.apply(malformed)
    assert states.known("team/A") == KeyState("team/A", 2000.0, "upstream answered 401")
    states.apply(enabled_message("team/A"))
    assert states.known("team/A") is None


async def test_with_the_store_down_the_last_known_states_hold(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    pool, counting, clock = counted_pool(store)
    store.cool_key("team/A", 4e9)
    assert (await pool.choose("team", None)).key == B
    counting.down = True
    clock.now += REFRESH_SECONDS
    assert (await pool.choose("team", None)).key == B  # A still known to be cooling
    assert (await pool.choose("team", None)).key == B
    assert counting.reads == 2  # one try per refresh interval, not one per request
    assert "the store could not be read: connection refused" in caplog.text


class DownStore:
    def _down(self, *args: object) -> Never:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    key_states = cool_key = disable_key = enable_key = record_resource_key = resource_key = _down
