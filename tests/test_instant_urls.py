"""transcribe_clip(url): the Sync API takes no URL, so the server fetches the clip under upload_file's
guard (checked and pinned addresses, private ones refused) and a byte cap, then sends the bytes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp.client import Client

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from tests.support import error_details, make_settings, wav_bytes
from tests.support.faults import serve_app_in_thread
from tests.test_upload_urls import PUBLIC, FakeDNS, FakeNetwork, chunked_app, media_app
from tests.test_upload_urls import dns as dns  # the fixtures, re-exported for pytest
from tests.test_upload_urls import network as network

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ANSWER = {
    "text": "From a link.",
    "confidence": 0.9,
    "audio_duration_ms": 1000,
    "session_id": "s",
    "words": [],
}


class SyncUpstream(httpx.AsyncBaseTransport):
    """The Sync API: keeps each request it gets."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return httpx.Response(200, json=ANSWER)


async def clip_by_url(url: str, upstream: SyncUpstream) -> Any:
    gateway = build_gateway(make_settings(), transport=upstream)
    try:
        async with Client(build_server(gateway)) as client:
            return await client.call_tool("transcribe_clip", {"url": url})
    finally:
        await gateway.aclose()


async def test_a_url_clip_is_fetched_at_the_checked_address_and_sent(
    network: FakeNetwork, dns: FakeDNS
) -> None:
    audio, upstream, hosts = wav_bytes(1.0), SyncUpstream(), list[str]()
    with serve_app_in_thread(media_app(audio, hosts)) as base:
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await clip_by_url("http://media.example.com/a.wav", upstream)
    assert not result.is_error, result.content
    assert set(network.dialled) == {(PUBLIC, 80)} and hosts == ["media.example.com"] * 2
    [sent] = upstream.requests
    assert sent.url.host == "sync.assemblyai.com" and audio in sent.content


async def test_a_private_address_is_refused_and_nothing_is_sent(network: FakeNetwork, dns: FakeDNS) -> None:
    upstream = SyncUpstream()
    result = await clip_by_url("http://internal.corp/a.wav", upstream)
    assert error_details(result)["kind"] == "url_refused"
    assert not network.dialled and not upstream.requests


async def test_a_download_stops_at_the_clip_cap(
    network: FakeNetwork, dns: FakeDNS, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap, upstream = 300 * 1024, SyncUpstream()
    monkeypatch.setattr("aai_mcp.mcp_server.handlers.clip_audio.MAX_CLIP_BYTES", cap)
    with serve_app_in_thread(chunked_app(b"x" * 16 * 1024, 128)) as base:  # 2 MiB, no Content-Length
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await clip_by_url("http://media.example.com/big", upstream)
    error = error_details(result)
    assert error["kind"] == "invalid_arguments" and str(cap) in error["message"]
    assert not upstream.requests
