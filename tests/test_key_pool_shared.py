"""Two instances sharing Redis and a store (both engines): each keeps its own copy of the key states,
so a request reads no store, yet a 429 seen by one stops the other using that key at once, and
`aai-mcp keys enable` from another process reaches both while they run. Neither instance reads the
store again by itself here (its refresh is switched off): what it learns, it learns from Redis."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from aai_mcp.access import Scopes, mint
from aai_mcp.gateway import Gateway
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.upstream.key_pool import KeyPool
from tests.support.proxy_harness import PROXY, SECRET, proxy_client, proxy_gateway
from tests.support.redis import RedisServer
from tests.support.servers import clean_env
from tests.support.stores import StoreConfig
from tests.support.two_accounts import KEY_A, KEY_B, TwoAccounts

pytestmark = pytest.mark.anyio
TOKEN = mint(SECRET.encode(), name="pool", scopes=Scopes(proxy=True), expires_at=None, account="team").token
POOLED = ["team=env:POOL_KEY_A", "team=env:POOL_KEY_B"]
A = "team/POOL_KEY_A"


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POOL_KEY_A", KEY_A)
    monkeypatch.setenv("POOL_KEY_B", KEY_B)
    yield


@asynccontextmanager
async def instance(upstream: TwoAccounts, store: SqlStore, redis: RedisServer) -> AsyncIterator[Gateway]:
    """One running instance (its lifespan's background work: hearing the key pool's news)."""
    gateway = proxy_gateway(upstream.transport(), accounts=POOLED, redis_url=redis.url)
    gateway.use_store(store)
    assert gateway.key_pool is not None
    gateway.key_pool.states.refresh_seconds = math.inf
    try:
        async with gateway.running():
            yield gateway
    finally:
        await gateway.aclose()


async def create(gateway: Gateway) -> httpx.Response:
    async with proxy_client(gateway) as client:
        body = {"audio_url": "https://example.com/a.mp3"}
        return await client.post(f"{PROXY}/v2/transcript", json=body, headers={"authorization": TOKEN})


async def until(gateway: Gateway, done: Callable[[KeyPool], bool]) -> None:
    """Until `done`, checked again after each change the instance hears (bounded for a loaded machine)."""
    pool = gateway.key_pool
    assert pool is not None
    with anyio.fail_after(60):
        while not done(pool):
            await pool.states.heard()


def keys_enable(store_config: StoreConfig, redis: RedisServer, name: str) -> str:
    env = clean_env(AAI_MCP_REDIS_URL=redis.url, **store_config.env())
    command = [sys.executable, "-m", "aai_mcp", "keys", "enable", name]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert redis.password not in done.stdout + done.stderr
    return done.stdout


async def test_a_429_on_one_instance_and_keys_enable_reach_the_other_without_a_restart(
    pooled: None, store_config: StoreConfig, shared_redis: RedisServer
) -> None:
    upstream = TwoAccounts()
    first_store, second_store = store_config.open(auto_upgrade=True), store_config.open()
    try:
        async with (
            instance(upstream, first_store, shared_redis) as first,
            instance(upstream, second_store, shared_redis) as second,
        ):
            assert (await create(second)).status_code == 200  # its one store read: nothing cooling
            assert upstream.keys_called() == [KEY_A]
            upstream.limited[KEY_A] = 600
            assert (await create(first)).status_code == 200
            assert upstream.keys_called()[1:] == [KEY_A, KEY_B]
            await until(second, lambda pool: pool.states.known(A) is not None)
            del upstream.limited[KEY_A]  # A would answer again, but the pool holds it back for 600 s
            assert (await create(second)).status_code == 200
            assert upstream.keys_called()[3:] == [KEY_B]  # no call spent on A
            out = keys_enable(store_config, shared_redis, A)
            assert f"{A}: enabled (every instance uses it again from its next request)" in out
            for running in (first, second):
                await until(running, lambda pool: pool.states.known(A) is None)
                assert (await create(running)).status_code == 200
            assert upstream.keys_called()[4:] == [KEY_A, KEY_A]
    finally:
        first_store.close()
        second_store.close()
