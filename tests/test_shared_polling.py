"""wait_for_transcript's poll loop across instances: with Redis, waiters on two instances share one
upstream loop, never across partitions (keys), and a dead leader's lease lapses to another instance.
A gateway whose Redis stops mid-run keeps serving and says so in /healthz."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client
from pydantic import SecretStr
from redis.asyncio import Redis

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.handlers.polling import TranscriptPoller, WaitOutcome
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.state.shared_redis import RedisState
from aai_mcp.transports.health import Health
from aai_mcp.transports.http import checked_authenticator
from tests.support import CANARY_KEY, make_settings
from tests.support.redis import RedisServer, redis_server

pytestmark = pytest.mark.anyio
INTERVAL = 0.05
PROCESSING_SECONDS = 1.5
DEADLINE = 60.0


class Upstream:
    """A transcript that completes PROCESSING_SECONDS after the first poll; counts polls by instance."""

    def __init__(self) -> None:
        self.polls: Counter[str] = Counter()
        self.unfinished_polls: Counter[str] = Counter()
        """Polls that found the transcript still processing: only a loop that leads makes them."""
        self.first: float | None = None

    def fetch_for(self, instance: str) -> Callable[[str], Awaitable[dict[str, Any]]]:
        async def fetch(transcript_id: str) -> dict[str, Any]:
            self.polls[instance] += 1
            now = time.monotonic()
            self.first = self.first or now
            done = now - self.first >= PROCESSING_SECONDS
            if not done:
                self.unfinished_polls[instance] += 1
            return {"id": transcript_id, "status": "completed" if done else "processing"}

        return fetch

    @staticmethod
    def most_one_loop_makes(seconds: float) -> int:
        """Polls of one loop in `seconds`: its pauses are at least 0.8 of the interval (jitter)."""
        return math.ceil(seconds / (INTERVAL * 0.8)) + 1


async def no_progress(progress: float, total: float | None, message: str | None) -> None:
    return None


def instances(url: str, *owners: str) -> list[TranscriptPoller]:
    return [TranscriptPoller(INTERVAL, INTERVAL, RedisState(url, owner=owner)) for owner in owners]


async def wait_all(
    jobs: list[tuple[TranscriptPoller, str, Callable[[str], Awaitable[dict[str, Any]]], str]],
) -> list[WaitOutcome]:
    outcomes: list[WaitOutcome] = []

    async def one(poller: TranscriptPoller, transcript_id: str, fetch: Any, partition: str) -> None:
        outcomes.append(await poller.wait(transcript_id, DEADLINE, no_progress, fetch, partition))

    with anyio.fail_after(DEADLINE * 2):
        async with anyio.create_task_group() as group:
            for job in jobs:
                group.start_soon(one, *job)
    return outcomes


async def close(pollers: list[TranscriptPoller]) -> None:
    for poller in pollers:
        await poller._shared.aclose()


async def test_waiters_on_two_instances_share_one_upstream_poll_loop(
    shared_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    upstream = Upstream()
    pollers = instances(shared_redis.url, "a", "b")
    transcript_id = f"t-{request.node.name}"
    started = time.monotonic()
    jobs = [
        (pollers[i % 2], transcript_id, upstream.fetch_for("ab"[i % 2]), "account:default") for i in range(20)
    ]
    outcomes = await wait_all(jobs)
    elapsed = time.monotonic() - started
    await close(pollers)

    assert [outcome.transcript["status"] for outcome in outcomes] == ["completed"] * 20
    polls = sorted(upstream.unfinished_polls.values())
    print(f"\n20 waiters on 2 instances: upstream polls by instance {dict(upstream.polls)} in {elapsed:.1f}s")
    # While the job runs only the lease holder polls; a waiter that starts on the other instance just
    # after the loop ended (it missed the announcement) may poll once and find the job completed.
    assert len(polls) == 1, f"only the lease holder polls, the other instance relays: {upstream.polls}"
    assert polls[0] <= Upstream.most_one_loop_makes(elapsed)


async def test_waiters_with_different_keys_never_share_a_loop(
    shared_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    upstream = Upstream()
    pollers = instances(shared_redis.url, "a", "b")
    transcript_id = f"t-{request.node.name}"
    jobs = [
        (pollers[0], transcript_id, upstream.fetch_for("key-1"), "key:1"),
        (pollers[1], transcript_id, upstream.fetch_for("key-2"), "key:2"),
    ]
    outcomes = await wait_all(jobs)
    await close(pollers)
    assert {outcome.transcript["status"] for outcome in outcomes} == {"completed"}
    assert upstream.polls["key-1"] > 0 and upstream.polls["key-2"] > 0


async def test_a_dead_leaders_lease_lapses_and_another_instance_polls(
    shared_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    transcript_id = f"t-{request.node.name}"
    raw = Redis.from_url(shared_redis.url)
    lapse = 1.0
    await raw.set(f"aai-mcp:poll:account:default:{transcript_id}", "dead-instance:1", px=int(lapse * 1000))
    claimed = time.monotonic()
    await raw.aclose()
    upstream = Upstream()
    (survivor,) = instances(shared_redis.url, "b")
    (outcome,) = await wait_all([(survivor, transcript_id, upstream.fetch_for("b"), "account:default")])
    await close([survivor])
    assert outcome.transcript["status"] == "completed" and not outcome.timed_out
    assert upstream.first is not None and upstream.first - claimed >= lapse * 0.9, "not before the lapse"


async def test_a_gateway_keeps_serving_when_redis_stops_and_health_says_degraded() -> None:
    with redis_server() as server:
        settings = make_settings(redis_url=SecretStr(server.url))
        simulator = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY))
        gateway = build_gateway(settings, transport=httpx.ASGITransport(app=simulator))
        health = Health(gateway, checked_authenticator(settings), "pod-a")
        try:
            async with gateway.shared.running(), Client(build_server(gateway)) as client:
                assert (await healthz(health))["shared_state"] == "redis"
                assert not (await client.call_tool("list_transcripts", {"limit": 1})).is_error
                server.stop()
                for _ in range(3):
                    result = await client.call_tool("list_transcripts", {"limit": 1})
                    assert not result.is_error, result
                answer = await healthz(health)
                assert answer == {**answer, "status": "ok", "shared_state": "degraded"}
        finally:
            await gateway.aclose()


async def healthz(health: Health) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=health)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body
