"""Speech clips behind a load balancer: two gateways on one real Redis. A clip made through one is read
through the other by its maker only (in process, and between two served instances with two tokens),
Redis expires it, and Redis holds neither the key nor the caller's name."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr
from redis.asyncio import Redis

from aai_mcp.access.principal import LOCAL, Principal
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.speech_clips import CLIP_TTL_SECONDS, GONE, URI_PREFIX, SpeechClips, clip_owner
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.state.shared_memory import InProcessState
from aai_mcp.state.shared_redis import PREFIX, RedisState
from tests.support import CANARY_KEY, make_settings
from tests.support.redis import RedisServer
from tests.support.servers import clean_env, serve_in_process
from tests.test_scale_out_shared import SECRET, client_for, new_token

pytestmark = pytest.mark.anyio
LONG_TEXT = {"text": "x" * 200, "sample_rate": 48000}  # over the inline bound: a resource
DEADLINE = 30.0  # generous: a loaded 2-core machine


@asynccontextmanager
async def two_instances(redis: RedisServer) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """Two gateways of one deployment: one Redis, one AssemblyAI (the simulator), no shared memory."""
    simulator = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY))
    async with AsyncExitStack() as stack:
        gateways = []
        for name in ("pod-a", "pod-b"):
            settings = make_settings(redis_url=SecretStr(redis.url), instance_id=name)
            gateway = build_gateway(settings, transport=httpx.ASGITransport(app=simulator))
            stack.push_async_callback(gateway.aclose)
            gateways.append(gateway)
        yield gateways[0], gateways[1]


async def made_clip(gateway: Gateway, principal: Principal = LOCAL) -> str:
    result = await gateway.runner.call("text_to_speech", LONG_TEXT, principal=principal)
    assert not result.is_error and result.structured_content is not None, result.content
    assert result.structured_content["delivery"] == "resource"
    uri: str = result.structured_content["download"]["uri"]
    return uri


async def refusal(gateway: Gateway, principal: Principal, uri: str) -> str:
    with pytest.raises(MCPError) as refused:
        await gateway.runner.clips.read(clip_owner(principal), uri)
    return str(refused.value)


async def test_a_clip_made_on_one_instance_is_read_on_the_other_by_its_maker_only(
    shared_redis: RedisServer,
) -> None:
    async with two_instances(shared_redis) as (pod_a, pod_b):
        async with Client(build_server(pod_a)) as on_a:
            made = await on_a.call_tool("text_to_speech", LONG_TEXT)
        assert made.structured_content is not None, made.content
        uri = made.structured_content["download"]["uri"]
        async with Client(build_server(pod_b)) as on_b:
            read = await on_b.read_resource(uri)
            with pytest.raises(MCPError) as unknown:
                await on_b.read_resource(uri[:-1] + ("A" if uri[-1] != "A" else "B"))
        someone_else = await refusal(pod_b, Principal(id="someone-else"), uri)
        as_maker = await pod_b.runner.clips.read(clip_owner(LOCAL), uri)
    (contents,) = read.contents
    assert isinstance(contents, types.BlobResourceContents)
    assert contents.mime_type == "audio/pcm;rate=48000;channels=1"
    assert len(base64.b64decode(contents.blob)) == made.structured_content["bytes"]
    assert as_maker.contents == read.contents
    assert someone_else == str(unknown.value) == GONE


async def test_redis_holds_the_clip_until_its_ttl_and_never_the_key_or_the_callers_name(
    shared_redis: RedisServer,
) -> None:
    maker = Principal(id="maker-principal")
    async with two_instances(shared_redis) as (pod_a, pod_b), Redis.from_url(shared_redis.url) as raw:
        uri = await made_clip(pod_a, maker)
        key = f"{PREFIX}blob:speech-clip:{uri.removeprefix(URI_PREFIX)}"
        ttl_ms, held = await raw.pttl(key), await raw.get(key)
        assert (await pod_b.runner.clips.read(clip_owner(maker), uri)).contents
    assert 0 < ttl_ms <= CLIP_TTL_SECONDS * 1000
    assert held is not None and CANARY_KEY.encode() not in held and b"maker-principal" not in held


async def test_an_expired_clip_is_gone_on_every_instance(shared_redis: RedisServer) -> None:
    async with two_instances(shared_redis) as (pod_a, pod_b):
        pod_a.runner.clips = SpeechClips(pod_a.shared, ttl_seconds=0.5)
        uri = await made_clip(pod_a)
        # Redis's own expiry (PX): polled until it happens, within a deadline for a loaded machine.
        with anyio.fail_after(DEADLINE):
            while await pod_b.shared.get_blob("speech-clip:" + uri.removeprefix(URI_PREFIX)) is not None:
                await anyio.sleep(0.05)
        assert await refusal(pod_b, LOCAL, uri) == await refusal(pod_a, LOCAL, uri) == GONE


async def test_blobs_put_while_redis_is_unreachable_stay_readable_on_this_instance(
    shared_redis: RedisServer,
) -> None:
    state = RedisState(shared_redis.url, owner="a")
    try:
        state.breaker.trip(ConnectionError("down"))  # as if the last call failed: Redis is not asked
        await state.put_blob("fallback-blob", b"kept here", 60)
        assert state.local.get_blob_now("fallback-blob") == b"kept here"
        assert await state.get_blob("fallback-blob") == b"kept here"
    finally:
        await state.aclose()


async def test_the_in_process_store_expires_on_its_clock_and_drops_the_oldest_beyond_its_bound() -> None:
    now = [0.0]
    state = InProcessState(max_blob_bytes=10)
    state.clock = lambda: now[0]
    await state.put_blob("old", b"123456", 60)
    await state.put_blob("new", b"123456", 60)
    assert (await state.get_blob("old"), await state.get_blob("new")) == (None, b"123456")
    now[0] = 59.9
    assert await state.get_blob("new") == b"123456"
    now[0] = 60.0
    assert await state.get_blob("new") is None


async def read_as(base_url: str, token: str, uri: str) -> types.ReadResourceResult | str:
    """The clip as one served instance answers `token`'s resources/read of it, or its refusal."""
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(60)) as http,
        client_for(base_url, token, http) as client,
    ):
        try:
            return await client.read_resource(uri)
        except MCPError as refused:
            return str(refused)


async def test_served_instances_hand_a_clip_to_its_makers_token_only(shared_redis: RedisServer) -> None:
    (maker, _), (other, _) = new_token("clip-maker"), new_token("clip-other")
    env = clean_env(AAI_MCP_REDIS_URL=shared_redis.url, AAI_MCP_TOKEN_SECRETS=SECRET)
    args = ("--stateless", "--auth", "tokens", "--instance-id")
    with (
        serve_in_process(*args, "pod-a", env=env) as pod_a,
        serve_in_process(*args, "pod-b", env=env) as pod_b,
    ):
        async with (
            httpx2.AsyncClient(timeout=httpx2.Timeout(60)) as http,
            client_for(pod_a.base_url, maker, http) as on_a,
        ):
            made = await on_a.call_tool("text_to_speech", LONG_TEXT)
        assert made.structured_content is not None, made.content
        uri = made.structured_content["download"]["uri"]
        by_maker = await read_as(pod_b.base_url, maker, uri)
        by_other = await read_as(pod_b.base_url, other, uri)
    assert isinstance(by_maker, types.ReadResourceResult), by_maker
    (contents,) = by_maker.contents
    assert isinstance(contents, types.BlobResourceContents)
    assert len(base64.b64decode(contents.blob)) == made.structured_content["bytes"]
    assert by_other == GONE
