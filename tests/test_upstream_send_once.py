"""Upstream.upload and Upstream.post_whole share one send-once path: the key of the view they are called
on (the server's, a caller's own, or the pool's choice) goes out with the request, every answer is
counted and told to the metering hook, and a refusal is an UpstreamError with the key blanked out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from aai_mcp.access.accounts import PoolKey
from aai_mcp.catalog.model import Route
from aai_mcp.config.settings import Settings
from aai_mcp.upstream import Upstream
from aai_mcp.upstream.errors import UpstreamError
from aai_mcp.upstream.key_pool import KeyPool
from aai_mcp.upstream.pooled_send import PooledKeys
from tests.test_key_pool import Clock, DownStore

pytestmark = pytest.mark.anyio
SERVER_KEY = "s" * 32
CALLER_KEY = "c" * 32
POOL_KEY = PoolKey("team/A", "team", SecretStr("p" * 32))
UPLOAD = Route(method="POST", host="api", path="/v2/upload")
SYNC = Route(method="POST", host="sync", path="/v1/transcribe/live")


class Recorder:
    """Upstream at the transport: answers `status` and keeps what each request carried."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.seen: list[tuple[str, str, bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.path, request.headers["Authorization"], request.read()))
        body = {"upload_url": "https://cdn/x"} if self.status < 400 else {"error": f"bad key {CALLER_KEY}"}
        return httpx.Response(self.status, json=body)


def upstream_on(recorder: Recorder) -> Upstream:
    return Upstream(Settings(api_key=SecretStr(SERVER_KEY)), transport=httpx.MockTransport(recorder))


async def chunks() -> AsyncIterator[bytes]:
    yield b"RIFF"
    yield b"rest"


@pytest.mark.parametrize("send", ["upload", "post_whole"])
async def test_each_view_sends_its_own_key_and_tells_the_metering_hook(send: str) -> None:
    recorder, told = Recorder(), []

    async def hook(host: str, method: str, path: str, response: httpx.Response) -> None:
        told.append((host, method, path, response.status_code))

    async def once(upstream: Upstream) -> None:
        if send == "upload":
            assert (await upstream.upload(UPLOAD, chunks(), 8))["upload_url"] == "https://cdn/x"
        else:
            await upstream.post_whole(SYNC, b"RIFFrest", {"Content-Type": "audio/wav"}, 30.0)

    server = upstream_on(recorder)
    pool = KeyPool({"team": [POOL_KEY]}, DownStore(), Clock())
    for view in (server, server.with_key(CALLER_KEY), server.pooled(PooledKeys(pool, "team"))):
        await once(view.observed(hook))
    route = UPLOAD if send == "upload" else SYNC
    assert [(key, body) for _, key, body in recorder.seen] == [
        (SERVER_KEY, b"RIFFrest"),
        (CALLER_KEY, b"RIFFrest"),
        (POOL_KEY.value.get_secret_value(), b"RIFFrest"),
    ]
    assert told == [(route.host, "POST", route.path, 200)] * 3
    await server.aclose()


@pytest.mark.parametrize("send", ["upload", "post_whole"])
async def test_a_refusal_is_sent_once_and_never_shows_the_callers_key(send: str) -> None:
    recorder = Recorder(status=401)
    upstream = upstream_on(recorder).with_key(CALLER_KEY)
    with pytest.raises(UpstreamError) as raised:
        if send == "upload":
            await upstream.upload(UPLOAD, chunks(), 8)
        else:
            await upstream.post_whole(SYNC, b"RIFFrest", {}, 30.0)
    assert len(recorder.seen) == 1
    assert CALLER_KEY not in str(raised.value) and CALLER_KEY not in repr(raised.value.__dict__)
