"""Sign-in attempt caps on the consent page (issue 15 part 4): past PER_ADDRESS attempts from one
address, or OVERALL from everyone, within the window, a sign-in is refused with a clear 429 page and
Retry-After before the password is even checked; counted in shared state, so instances share them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from aai_mcp.access.sign_in_attempts import OVERALL, PER_ADDRESS, WINDOW_SECONDS
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.state.store_sql import SqlStore
from tests.support import CANARY_KEY
from tests.support.oauth_app import client_from, oauth_app
from tests.support.oauth_flow import authorize, consent, new_pkce, open_consent, register
from tests.support.redis import RedisServer

pytestmark = pytest.mark.anyio

SECRET = "oauth-limits-secret-0123456789abcdef"


@pytest.fixture
async def app(store: SqlStore) -> AsyncIterator[Starlette]:
    simulator = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    async with oauth_app(store, httpx.ASGITransport(app=simulator), SECRET) as started:
        yield started


async def sign_in(http: httpx.AsyncClient, client_id: str, password: str) -> httpx.Response:
    started = await authorize(http, client_id, new_pkce())
    form = await open_consent(http, started.headers["location"])
    return await consent(http, form, password=password)


async def test_an_address_past_its_attempts_is_refused_even_with_the_right_password(app: Starlette) -> None:
    async with client_from(app, "192.0.2.10") as http, client_from(app, "192.0.2.11") as other:
        client_id = await register(http)
        wrong = [(await sign_in(http, client_id, "guess")).status_code for _ in range(PER_ADDRESS)]
        assert wrong == [401] * PER_ADDRESS
        locked = await sign_in(http, client_id, "correct horse battery staple")
        assert locked.status_code == 429 and "location" not in locked.headers
        assert "Too many sign-in attempts from your address" in locked.text
        assert 0 < int(locked.headers["retry-after"]) <= WINDOW_SECONDS
        assert "frame-ancestors 'none'" in locked.headers["content-security-policy"]
        # Another address is not locked out by this one.
        assert (await sign_in(other, client_id, "correct horse battery staple")).status_code == 303


async def test_everyone_together_is_capped_too(app: Starlette) -> None:
    async with client_from(app, "198.51.100.1") as first:
        client_id = await register(first)
    attempts, address = 0, 0
    while attempts < OVERALL:
        address += 1
        async with client_from(app, f"198.51.100.{address}") as http:
            for _ in range(min(PER_ADDRESS, OVERALL - attempts)):
                assert (await sign_in(http, client_id, "guess")).status_code == 401
                attempts += 1
    async with client_from(app, "203.0.113.99") as fresh:
        refused = await sign_in(fresh, client_id, "correct horse battery staple")
    assert refused.status_code == 429 and "from this server" in refused.text


async def test_deny_needs_no_sign_in_and_is_not_capped(app: Starlette) -> None:
    async with client_from(app, "192.0.2.20") as http:
        client_id = await register(http)
        for _ in range(PER_ADDRESS):
            await sign_in(http, client_id, "guess")
        started = await authorize(http, client_id, new_pkce())
        form = await open_consent(http, started.headers["location"])
        denied = await consent(http, form, decision="deny", password="")
        assert denied.status_code == 303 and "error=access_denied" in denied.headers["location"]


async def forget_attempts(redis_url: str) -> None:
    """The session's Redis is shared by tests (and this one runs once per store engine): start from
    no counted attempts."""
    import redis.asyncio

    client = redis.asyncio.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match="*oauth-sign-in*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_two_instances_count_together_through_redis(store: SqlStore, shared_redis: RedisServer) -> None:
    await forget_attempts(shared_redis.url)
    simulator = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    upstream = httpx.ASGITransport(app=simulator)
    async with (
        oauth_app(store, upstream, SECRET, redis_url=SecretStr(shared_redis.url), instance_id="a") as one,
        oauth_app(store, upstream, SECRET, redis_url=SecretStr(shared_redis.url), instance_id="b") as two,
        client_from(one, "192.0.2.30") as via_one,
        client_from(two, "192.0.2.30") as via_two,
    ):
        client_id = await register(via_one)
        for attempt in range(PER_ADDRESS):
            http = via_one if attempt % 2 else via_two
            assert (await sign_in(http, client_id, "guess")).status_code == 401
        # Each instance saw only some of them; together they are over the cap.
        for http in (via_one, via_two):
            assert (await sign_in(http, client_id, "correct horse battery staple")).status_code == 429
