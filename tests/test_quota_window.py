"""The rate window the team quotas count requests per minute in: the same contract in-process and in a
real Redis, where every instance counts into one window."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aai_mcp.state.shared import SharedState
from aai_mcp.state.shared_memory import InProcessState
from aai_mcp.state.shared_redis import RedisState
from tests.support.redis import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.slow)])
def make_state(request: pytest.FixtureRequest) -> Callable[[str], SharedState]:
    if request.param == "in-process":
        return lambda owner: InProcessState()
    server: RedisServer = request.getfixturevalue("shared_redis")
    return lambda owner: RedisState(server.url, owner=owner)


async def test_hits_count_up_within_a_window_and_say_when_it_ends(
    make_state: Callable[[str], SharedState], request: pytest.FixtureRequest
) -> None:
    state = make_state("a")
    key = request.node.nodeid
    try:
        counts = [await state.count_hit(key, 3600) for _ in range(3)]
        other = await state.count_hit(key + "-other", 3600)
    finally:
        await state.aclose()
    # A window boundary may fall between two hits (once an hour): then the count starts again.
    assert [c.count for c in counts] in ([1, 2, 3], [1, 2, 1], [1, 1, 2])
    assert other.count == 1
    assert all(0 < c.reset_seconds <= 3600 for c in counts)


async def test_two_instances_on_redis_count_into_one_window(
    shared_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    first, second = RedisState(shared_redis.url, owner="a"), RedisState(shared_redis.url, owner="b")
    key = request.node.nodeid
    try:
        seen = [(await state.count_hit(key, 3600)).count for state in (first, second, first, second)]
    finally:
        await first.aclose()
        await second.aclose()
    assert seen in ([1, 2, 3, 4], [1, 2, 3, 1], [1, 2, 1, 2], [1, 1, 2, 3])
    assert status_is_redis(first)


def status_is_redis(state: RedisState) -> bool:
    return state.status == "redis"


def test_in_process_windows_start_again_on_the_clock() -> None:
    state = InProcessState()
    now = [1000.0]
    state.clock = lambda: now[0]
    assert state.count_hit_now("t", 60).count == 1
    assert state.count_hit_now("t", 60).count == 2
    assert state.count_hit_now("t", 60).reset_seconds == 20.0  # the window is 960..1020
    now[0] = 1020.0
    again = state.count_hit_now("t", 60)
    assert (again.count, again.reset_seconds) == (1, 60.0)


@pytest.mark.slow
async def test_redis_down_counts_in_this_process(request: pytest.FixtureRequest) -> None:
    # Nothing listens on port 9 of loopback: the state falls back to this process's own window.
    state = RedisState("redis://127.0.0.1:9/0", owner="a")
    try:
        counts = [(await state.count_hit(request.node.nodeid, 3600)).count for _ in range(2)]
    finally:
        await state.aclose()
    assert counts in ([1, 2], [1, 1])
    assert state.status == "degraded"
