"""Team quotas at the proxy: a team over a quota gets 429 team_quota with RateLimit-Limit, -Remaining,
-Reset and Retry-After before anything is forwarded; per-minute counts hold across instances sharing
Redis; jobs, audio hours and LLM tokens come from the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from aai_mcp.access.quota_gate import JOBS_RETRY_SECONDS, next_month_start
from aai_mcp.state.store_sql import SqlStore
from tests.support.proxy_harness import PROXY, RecordingUpstream, proxy_client, proxy_gateway
from tests.support.quota_rig import (
    AUTH,
    SIMULATOR_KEY,
    TEAM_KEY_ENV,
    ask,
    create,
    read,
    simulated_gateway,
    team_auth,
    transcribe,
    upload,
)
from tests.support.redis import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def team_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(TEAM_KEY_ENV, SIMULATOR_KEY)
    yield


def assert_refused(answer: httpx.Response, limit: int, reset: float, tolerance: float = 5) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["code"] == "team_quota"
    assert answer.headers["ratelimit-limit"] == str(limit)
    assert answer.headers["ratelimit-remaining"] == "0"
    assert abs(int(answer.headers["ratelimit-reset"]) - reset) <= tolerance
    assert answer.headers["retry-after"] == answer.headers["ratelimit-reset"]


async def test_requests_per_minute_answer_429_with_the_headers(store: SqlStore) -> None:
    gateway = simulated_gateway(store, "team:rpm=2")
    async with proxy_client(gateway) as client:
        answers = [await client.get(f"{PROXY}/v2/transcript", headers=AUTH) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
    assert all(a.headers["ratelimit-limit"] == "2" for a in answers)
    reset = int(answers[2].headers["ratelimit-reset"])
    assert 1 <= reset <= 60
    assert_refused(answers[2], 2, reset)
    assert "2 requests of this minute" in answers[2].json()["error"]
    scrape = gateway.metrics.exposition().decode()
    assert 'aai_mcp_team_quota_refusals_total{quota="rpm",team="team"} 1.0' in scrape


@pytest.mark.slow
async def test_requests_per_minute_count_across_two_instances_sharing_redis(
    shared_redis: RedisServer,
) -> None:
    team = f"rpm-{secrets.token_hex(4)}"  # the session's Redis is shared by every test
    auth = team_auth(team)
    first = simulated_gateway(None, f"{team}:rpm=3", team, redis_url=shared_redis.url, instance_id="one")
    second = simulated_gateway(None, f"{team}:rpm=3", team, redis_url=shared_redis.url, instance_id="two")
    async with proxy_client(first) as one, proxy_client(second) as two:
        for _ in range(2):  # a second go only when a minute ended in the middle of the first
            answers = [await c.get(f"{PROXY}/v2/transcript", headers=auth) for c in (one, two, one, two)]
            resets = [int(a.headers["ratelimit-reset"]) for a in answers]
            if resets == sorted(resets, reverse=True):
                break
    await first.aclose()
    await second.aclose()
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert_refused(answers[3], 3, resets[3])
    assert first.shared.status == "redis" and second.shared.status == "redis"


async def test_concurrent_jobs_are_limited_until_one_is_seen_finished(store: SqlStore) -> None:
    gateway = simulated_gateway(store, "team:jobs=1")
    async with proxy_client(gateway) as client:
        audio = await upload(client, 1.0)
        first = await create(client, audio)
        assert first.status_code == 200
        refused = await create(client, audio)
        assert_refused(refused, 1, JOBS_RETRY_SECONDS)
        assert "1" in refused.json()["error"]
        assert (await read(client, first.json()["id"]))["status"] == "completed"
        assert (await create(client, audio)).status_code == 200


async def test_a_deleted_job_leaves_the_count(store: SqlStore) -> None:
    gateway = simulated_gateway(store, "team:jobs=1")
    async with proxy_client(gateway) as client:
        first = await create(client, await upload(client, 1.0))
        deleted = await client.delete(f"{PROXY}/v2/transcript/{first.json()['id']}", headers=AUTH)
        assert deleted.status_code == 200
        assert (await create(client, await upload(client, 1.0))).status_code == 200


async def test_monthly_audio_hours_refuse_new_jobs_until_next_month(store: SqlStore) -> None:
    gateway = simulated_gateway(store, "team:audio_hours=0.001")  # 3.6 s: limit 3 s
    async with proxy_client(gateway) as client:
        await transcribe(client, 4.0)
        refused = await create(client, await upload(client, 1.0))
        reads = await client.get(f"{PROXY}/v2/transcript", headers=AUTH)
    assert_refused(refused, 3, next_month_start(time.time()) - time.time(), tolerance=30)
    assert reads.status_code == 200  # reading is not transcribing


async def test_monthly_llm_tokens_refuse_llm_calls_until_next_month(store: SqlStore) -> None:
    gateway = simulated_gateway(store, "team:llm_tokens=5")
    async with proxy_client(gateway) as client:
        first = await ask(client)
        assert first.status_code == 200
        assert first.json()["usage"]["total_tokens"] >= 5
        refused = await ask(client)
    assert_refused(refused, 5, math.ceil(next_month_start(time.time()) - time.time()), tolerance=30)


async def test_a_team_without_quotas_gets_no_rate_headers(store: SqlStore) -> None:
    async with proxy_client(simulated_gateway(store)) as client:
        answer = await client.get(f"{PROXY}/v2/transcript", headers=AUTH)
    assert answer.status_code == 200
    assert "ratelimit-limit" not in answer.headers


async def test_a_refused_request_never_reaches_upstream(store: SqlStore) -> None:
    upstream = RecordingUpstream()
    gateway = proxy_gateway(upstream, accounts=[f"team=env:{TEAM_KEY_ENV}"], team_quotas="team:rpm=1")
    gateway.use_store(store)
    async with proxy_client(gateway) as client:
        first = await client.get(f"{PROXY}/v2/transcript", headers=AUTH)
        second = await client.post(f"{PROXY}/v2/transcript", json={"audio_url": "https://x/a"}, headers=AUTH)
    assert (first.status_code, second.status_code) == (200, 429)
    assert len(upstream.seen) == 1


async def test_an_unreadable_store_lets_the_team_through(store: SqlStore) -> None:
    gateway = simulated_gateway(store, "team:jobs=1,audio_hours=1")
    with store.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE transcript_jobs"))
        connection.execute(sa.text("DROP TABLE usage_records"))
    async with proxy_client(gateway) as client:
        audio = await upload(client, 1.0)
        answers = [await create(client, audio) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]  # a quota is not worth an outage


async def test_two_creations_at_once_cannot_both_take_the_last_job_place(store: SqlStore) -> None:
    gateway = simulated_gateway(store, "team:jobs=1")
    async with proxy_client(gateway) as client:
        audio = await upload(client, 1.0)
        # Both read the store before either job is recorded: the place held in shared state decides.
        held = await gateway.quota_gate.admit("team", "transcription")
        assert held.job_place is not None
        refused = await create(client, audio)
        await gateway.quota_gate.release(held)
        created = await create(client, audio)
    assert_refused(refused, 1, JOBS_RETRY_SECONDS)
    assert "is creating or running as many transcription jobs as it may" in refused.json()["error"]
    assert created.status_code == 200


@pytest.mark.slow
async def test_a_job_place_held_on_one_instance_counts_on_another(
    store: SqlStore, shared_redis: RedisServer
) -> None:
    team = f"jobs-{secrets.token_hex(4)}"  # the session's Redis is shared by every test
    quotas = f"{team}:jobs=1"
    first = simulated_gateway(store, quotas, team, redis_url=shared_redis.url, instance_id="one")
    second = simulated_gateway(store, quotas, team, redis_url=shared_redis.url, instance_id="two")
    auth = team_auth(team)
    body = {"audio_url": "https://example.com/a.mp3", "speech_models": ["universal-3-pro"]}
    async with proxy_client(second) as client:
        held = await first.quota_gate.admit(team, "transcription")
        refused = await client.post(f"{PROXY}/v2/transcript", json=body, headers=auth)
        await first.quota_gate.release(held)
    await first.aclose()
    await second.aclose()
    assert held.job_place is not None and held.job_place.shared
    assert_refused(refused, 1, JOBS_RETRY_SECONDS)
