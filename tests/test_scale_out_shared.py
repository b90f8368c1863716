"""The two-instance proof: two `serve --stateless` instances behind Caddy (round robin) with one Redis
and one PostgreSQL act as one gateway: 20 waiters on one transcript, split across both, cause one
upstream poll loop (GETs counted at the simulator), a token's concurrent-call limit holds across both,
a revocation is refused by both within a second, and a restarted instance loses nothing durable.

Run with `-s` to see the figures.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from redis import Redis

from aai_mcp.access import Scopes, mint
from tests.support import error_details
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer
from tests.support.servers import (
    SIM_KEY,
    ServerProcess,
    serve_in_process,
    simulator_env,
    standalone_simulator,
    upstream_args,
    wait_until,
)
from tests.test_scale_out import AUDIO_URL, Recorder, caddy_round_robin
from tests.test_store_serving import LIST, MCP_HEADERS, aai_mcp, refusal, refused_everywhere

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SECRET = "scale-out-shared-signing-secret-0123456789"
# A steady interval, short beside the processing time: two loops would make about twice the GETs the
# bound allows one loop (which counts every pause at its shortest).
FIRST_POLL = LONGEST_POLL = 0.5
PROCESSING_SECONDS = 8.0
WAITERS = 20
CALL_LIMIT = 3
TRANSCRIPT_GETS = "GET /v2/transcript/{transcript_id}"
# The design is within a second (a refresh every 0.5 s); the margin is for a loaded 2-core test machine.
REVOCATION_BOUND_SECONDS = 2.0


def deployment_env(redis: RedisServer, database_url: str | None = None) -> dict[str, str]:
    """Both instances' environment: one Redis, and one PostgreSQL when given."""
    env = {**simulator_env(), "AAI_MCP_REDIS_URL": redis.url, "AAI_MCP_TOKEN_SECRETS": SECRET}
    return env | ({"AAI_MCP_DATABASE_URL": database_url} if database_url else {})


@contextmanager
def two_shared_instances(
    simulator_url: str, redis: RedisServer, call_limit: int, database_url: str | None = None
) -> Iterator[tuple[str, list[ServerProcess]]]:
    args = [
        "--stateless",
        "--auth",
        "tokens",
        "--max-concurrent-calls-per-token",
        str(call_limit),
        "--wait-poll-initial-seconds",
        str(FIRST_POLL),
        "--wait-poll-max-seconds",
        str(LONGEST_POLL),
        *upstream_args(simulator_url),
    ]
    with ExitStack() as stack:
        instances = [
            stack.enter_context(
                serve_in_process(*args, "--instance-id", name, env=deployment_env(redis, database_url))
            )
            for name in ("pod-a", "pod-b")
        ]
        proxy = stack.enter_context(caddy_round_robin([instance.base_url for instance in instances]))
        yield proxy, instances


def new_token(name: str) -> tuple[str, str]:
    """A token allowed every tool, and its id (what its call places are counted under)."""
    minted = mint(SECRET.encode(), name=name, scopes=Scopes(), expires_at=time.time() + 3600)
    return minted.token, minted.jti


def simulator_stats(simulator_url: str) -> dict[str, Any]:
    headers = {"Authorization": SIM_KEY}
    stats: dict[str, Any] = httpx.get(f"{simulator_url}/_sim/stats", headers=headers, timeout=10).json()
    return stats


def most_polls_of_one_loop(seconds: float) -> int:
    """The most GETs one instance's loop could make in `seconds`: every pause at its shortest (0.8 of
    the interval, which grows 1.5x per poll up to the longest)."""
    polls, spent, interval = 1, 0.0, FIRST_POLL
    while spent + interval * 0.8 <= seconds:
        spent += interval * 0.8
        polls += 1
        interval = min(interval * 1.5, LONGEST_POLL)
    return polls


async def call(client: Client, name: str, **arguments: Any) -> Any:
    return await client.call_tool(name, arguments)


def client_for(proxy: str, token: str, http: httpx2.AsyncClient) -> Client:
    http.headers["Authorization"] = f"Bearer {token}"
    return Client(streamable_http_client(f"{proxy}/mcp", http_client=http))


async def test_twenty_waiters_across_two_instances_poll_upstream_as_one_loop(
    shared_redis: RedisServer,
) -> None:
    token, _ = new_token("waiters")
    delay = str(PROCESSING_SECONDS)
    with (
        standalone_simulator("--simulator-delay-seconds", delay) as simulator,
        two_shared_instances(simulator.base_url, shared_redis, WAITERS) as (proxy, _),
    ):
        recorder = Recorder()
        timeout = httpx2.Timeout(30, read=120)
        async with (
            httpx2.AsyncClient(timeout=timeout, event_hooks={"response": [recorder]}) as http,
            client_for(proxy, token, http) as client,
        ):
            created = await call(client, "create_transcript", audio_url=AUDIO_URL)
            transcript_id = created.structured_content["id"]
            outcomes: list[Any] = []

            async def wait() -> None:
                args = {"transcript_id": transcript_id, "timeout_seconds": 90}
                outcomes.append(await client.call_tool("wait_for_transcript", args))

            started = time.monotonic()
            async with anyio.create_task_group() as group:
                for _ in range(WAITERS):
                    group.start_soon(wait)
            elapsed = time.monotonic() - started
        gets = simulator_stats(simulator.base_url)["requests"].get(TRANSCRIPT_GETS, 0)

    statuses = Counter(outcome.structured_content["status"] for outcome in outcomes if not outcome.is_error)
    served = Counter(instance for tool, instance in recorder.calls if tool == "wait_for_transcript")
    bound = most_polls_of_one_loop(elapsed)
    print(
        f"\n{WAITERS} wait_for_transcript calls, per instance {dict(served)}: {gets} upstream GETs in "
        f"{elapsed:.1f}s (one instance's loop alone makes at most {bound}); outcomes {dict(statuses)}"
    )
    assert statuses == {"completed": WAITERS}, [outcome for outcome in outcomes if outcome.is_error]
    assert set(served) == {"pod-a", "pod-b"}, "the waits were split across both instances"
    assert 1 <= gets <= bound, "one poll loop across both instances"


def places_held(redis: RedisServer, token_id: str) -> list[str]:
    with Redis.from_url(redis.url) as raw:
        members = raw.zrange(f"aai-mcp:calls:{token_id}", 0, -1)
    return [member.decode() for member in members]


async def test_a_tokens_concurrency_limit_holds_across_two_instances(shared_redis: RedisServer) -> None:
    token, token_id = new_token("busy")
    with (
        standalone_simulator("--simulator-delay-seconds", "3600") as simulator,
        two_shared_instances(simulator.base_url, shared_redis, CALL_LIMIT) as (proxy, _),
    ):
        recorder = Recorder()
        timeout = httpx2.Timeout(30, read=300)
        async with (
            httpx2.AsyncClient(timeout=timeout, event_hooks={"response": [recorder]}) as http,
            client_for(proxy, token, http) as client,
        ):
            created = await call(client, "create_transcript", audio_url=AUDIO_URL)
            args = {"transcript_id": created.structured_content["id"], "timeout_seconds": 240}
            async with anyio.create_task_group() as group:
                for _ in range(CALL_LIMIT):
                    group.start_soon(client.call_tool, "wait_for_transcript", args)
                await anyio.to_thread.run_sync(
                    lambda: wait_until(
                        lambda: len(places_held(shared_redis, token_id)) == CALL_LIMIT,
                        timeout=60,
                        what=f"{CALL_LIMIT} calls holding their places",
                    )
                )
                holders = Counter(member.split(":")[0] for member in places_held(shared_redis, token_id))
                refusals = [await client.call_tool("list_transcripts", {"limit": 1}) for _ in range(2)]
                group.cancel_scope.cancel()
        refused_by = [instance for tool, instance in recorder.calls if tool == "list_transcripts"]

    kinds = [error_details(result)["kind"] for result in refusals]  # each must be an error result
    print(
        f"\nlimit {CALL_LIMIT} per token: places held per instance {dict(holders)}; the next calls, "
        f"answered by {refused_by}: {kinds}"
    )
    assert set(holders) == {"pod-a", "pod-b"}, "the held calls run on both instances"
    assert kinds == ["too_many_calls"] * 2
    assert set(refused_by) == {"pod-a", "pod-b"}, "each instance refuses: it counts the other's calls"


async def test_a_revocation_reaches_the_other_instance_within_a_second_and_a_restart_keeps_it(
    shared_redis: RedisServer, postgres_server: PostgresServer
) -> None:
    """The issue's last proof: two instances on one Redis and one PostgreSQL. A token revoked with
    pod-a's configuration is refused by both (each asked directly, not through the balancer), and an
    instance started afresh on the same store still refuses it while another token keeps working."""
    env = deployment_env(shared_redis, postgres_server.new_database())
    upgraded = aai_mcp(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    revoked, kept = new_token("revoked"), new_token("kept")
    with (
        standalone_simulator("--simulator-delay-seconds", "1") as simulator,
        two_shared_instances(simulator.base_url, shared_redis, CALL_LIMIT, env["AAI_MCP_DATABASE_URL"]) as (
            proxy,
            (pod_a, pod_b),
        ),
    ):
        assert [refusal(pod_a, revoked[0]), refusal(pod_b, revoked[0])] == [None, None]
        done = aai_mcp(env, "token", "revoke", revoked[0], "--reason", "scale-out proof")
        assert done.returncode == 0 and "revoked in the store" in done.stdout, done.stderr
        latency = refused_everywhere([pod_b, pod_a], revoked[0])
        through_proxy = httpx.post(
            f"{proxy}/mcp", json=LIST, headers={**MCP_HEADERS, "authorization": f"Bearer {revoked[0]}"}
        )
        args = (
            "--stateless",
            "--auth",
            "tokens",
            "--instance-id",
            "pod-b-restarted",
            *upstream_args(simulator.base_url),
        )
        with serve_in_process(*args, env=env) as restarted:
            after_restart = (refusal(restarted, revoked[0]), refusal(restarted, kept[0]))
    print(
        f"\nrevoked with pod-a's configuration: both instances refused it {latency:.3f} s after the CLI "
        f"returned; the balancer answered {through_proxy.status_code}; a restarted instance: {after_restart}"
    )
    assert latency < REVOCATION_BOUND_SECONDS, "instances follow the store twice a second"
    assert through_proxy.status_code == 401
    assert after_restart == ("revoked", None), "the restarted instance refuses the revoked token only"
