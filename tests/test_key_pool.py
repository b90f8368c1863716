"""The key pool's choices on a real store (both engines): weights and load, cooldowns, disabled keys,
affinity that never switches keys."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Never

import anyio
import pytest
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from aai_mcp.access.accounts import PoolKey
from aai_mcp.state.shared_memory import InProcessState
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.upstream.key_pool import KeyPool, NoUsableKey
from aai_mcp.upstream.key_states import CHANNEL, enabled_message

pytestmark = pytest.mark.anyio
A = PoolKey("team/A", "team", SecretStr("a" * 32))
B = PoolKey("team/B", "team", SecretStr("b" * 32), weight=2)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def pool_on(store: SqlStore, clock: Clock | None = None) -> KeyPool:
    return KeyPool({"team": [A, B]}, store, clock or Clock())


async def test_the_least_loaded_key_by_weight_is_chosen(store: SqlStore) -> None:
    pool = pool_on(store)
    assert (await pool.choose("team", None)).key == B  # weight 2 wins an idle pool
    # Load once chosen, in flight + 1 over weight: B takes two requests for every one of A's.
    with pool.using(B):
        assert (await pool.choose("team", None)).key == B  # A 1/1, B 2/2: a tie goes to the heavier
    with pool.using(B), pool.using(B):
        assert (await pool.choose("team", None)).key == A  # A 1/1 < B 3/2
    with pool.using(A):
        assert (await pool.choose("team", None)).key == B
    assert pool.in_flight == {"team/A": 0, "team/B": 0}


async def test_a_rate_limited_key_cools_down_for_its_retry_after(store: SqlStore) -> None:
    clock = Clock()
    pool = pool_on(store, clock)
    await pool.rate_limited(B, 20)
    assert (await pool.choose("team", None)).key == A
    await pool.rate_limited(A, 5)
    with pytest.raises(NoUsableKey) as raised:
        await pool.choose("team", None)
    assert raised.value.retry_after == 5
    clock.now += 6
    assert (await pool.choose("team", None)).key == A
    clock.now += 15
    assert (await pool.choose("team", None)).key == B


async def test_a_refused_key_stays_out_until_enabled_and_other_instances_agree(store: SqlStore) -> None:
    shared = InProcessState()  # what Redis is between instances
    clock = Clock()
    pool = KeyPool({"team": [A, B]}, store, clock, shared=shared)
    # Never reads the store again by itself: what it learns below, it learns from the news.
    other = KeyPool({"team": [A, B]}, store, clock, shared=shared, refresh_seconds=math.inf)
    async with other.following():
        assert (await other.choose("team", None)).key == B  # read once, from the store
        await pool.refused(B, 401)
        await until(other, lambda: other.states.known("team/B") is not None)
        assert (await other.choose("team", None)).key == A
        await pool.refused(A, 403)
        await until(other, lambda: other.states.known("team/A") is not None)
        with pytest.raises(NoUsableKey) as raised:
            await other.choose("team", None)
        assert raised.value.retry_after is None  # only an operator brings them back
        # `aai-mcp keys enable`: the store, then the news.
        assert store.enable_key("team/B")
        await shared.publish(CHANNEL, enabled_message("team/B"))
        await until(other, lambda: other.states.known("team/B") is None)
        assert (await other.choose("team", None)).key == B


async def until(pool: KeyPool, done: Callable[[], bool]) -> None:
    """Until `done`, each check after the next change `pool` hears (bounded for a loaded machine)."""
    with anyio.fail_after(30):
        while not done():
            await pool.states.heard()


async def test_a_follow_up_stays_on_the_key_that_made_the_resource(store: SqlStore) -> None:
    clock = Clock()
    pool = pool_on(store, clock)
    await pool.remember(["tr_made_by_a"], A)
    choice = await pool_on(store, clock).choose("team", "tr_made_by_a")  # another instance
    assert choice.key == A and choice.pinned
    await pool.rate_limited(A, 42)
    with pytest.raises(NoUsableKey) as raised:
        await pool.choose("team", "tr_made_by_a")  # never switched to B, which is free
    assert raised.value.retry_after == 42 and "team/A" in raised.value.message
    assert (await pool.choose("team", "tr_unknown")).key == B


async def test_a_resource_of_another_account_is_not_pinned(store: SqlStore) -> None:
    other = PoolKey("other/X", "other", SecretStr("x" * 32))
    pool = KeyPool({"team": [A, B], "other": [other]}, store, Clock())
    await pool.remember(["tr_other"], other)
    choice = await pool.choose("team", "tr_other")
    assert choice.key == B and not choice.pinned


class DownStore:
    """A store that cannot be reached (a database restart)."""

    def _down(self, *args: object) -> Never:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    key_states = cool_key = disable_key = enable_key = record_resource_key = resource_key = _down


async def test_without_the_store_the_pool_still_picks_a_key(caplog: pytest.LogCaptureFixture) -> None:
    pool = KeyPool({"team": [A, B]}, DownStore(), Clock())
    choice = await pool.choose("team", "tr_whose")  # affinity unknown: upstream may answer 404
    assert choice.key == B and not choice.pinned
    await pool.rate_limited(A, 5)
    await pool.remember(["tr_x"], A)
    assert "the store could not be written: connection refused" in caplog.text
    assert A.value.get_secret_value() not in caplog.text
