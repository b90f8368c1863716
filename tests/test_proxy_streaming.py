"""Uploads stream through the proxy: upstream has the first chunk before the caller sends the next,
and the answer goes back chunk by chunk, so neither is ever held whole."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from starlette.types import Message

from aai_mcp.proxy.relay import AnswerCutOff, relay_response
from tests.support.proxy_harness import PROXY, RecordingUpstream, proxy_client, proxy_gateway, proxy_token
from tests.support.servers import serve_gateway_in_thread

pytestmark = pytest.mark.anyio
CHUNK = b"\x01" * 65536
# Generous: on a loaded 2-core machine the event still comes in milliseconds; only a proxy that
# waits for the whole body before sending anything would reach this.
DEADLINE_SECONDS = 30.0


async def test_an_upload_reaches_upstream_while_the_caller_is_still_sending() -> None:
    upstream = RecordingUpstream()
    upstream.body = b'{"upload_url": "https://cdn.assemblyai.com/upload/x"}'
    arrived_early: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        yield CHUNK
        with anyio.fail_after(DEADLINE_SECONDS):
            await upstream.first_chunk.wait()  # would never fire if the proxy buffered the body
        arrived_early.append(len(upstream.seen[0].chunks))
        for _ in range(15):
            yield CHUNK

    async with proxy_client(proxy_gateway(upstream)) as client:
        response = await client.post(
            PROXY + "/v2/upload",
            content=body(),
            headers={"Authorization": proxy_token(), "Content-Type": "application/octet-stream"},
        )
    assert response.status_code == 200
    assert response.content == upstream.body
    assert arrived_early and arrived_early[0] >= 1
    assert upstream.seen[0].body == CHUNK * 16
    assert upstream.seen[0].request.headers["transfer-encoding"] == "chunked"


@pytest.mark.slow
async def test_a_large_upload_streams_through_a_real_server() -> None:
    upstream = RecordingUpstream()
    megabyte = b"\x02" * (1 << 20)
    early: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        yield megabyte
        seen = await anyio.to_thread.run_sync(upstream.first_chunk_seen.wait, DEADLINE_SECONDS)
        early.append(sum(len(chunk) for chunk in upstream.seen[0].chunks) if seen else 0)
        for _ in range(63):
            yield megabyte

    with serve_gateway_in_thread(proxy_gateway(upstream)) as url:
        async with httpx.AsyncClient(timeout=DEADLINE_SECONDS) as client:
            response = await client.post(
                url + PROXY + "/v2/upload", content=body(), headers={"Authorization": proxy_token()}
            )
    assert response.status_code == 200
    assert early and 0 < early[0] <= len(megabyte)  # upstream had part of the body, not all of it
    assert len(upstream.seen[0].body) == 64 * len(megabyte)


class _Trickle(httpx.AsyncByteStream):
    """An upstream answer in parts, the next part only once the caller has the previous one."""

    def __init__(self, parts: list[bytes], relayed: list[bytes], ready: list[anyio.Event]) -> None:
        self.parts, self.relayed, self.ready = parts, relayed, ready

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index, part in enumerate(self.parts):
            yield part
            with anyio.fail_after(DEADLINE_SECONDS):
                await self.ready[index].wait()


async def test_the_answer_is_relayed_part_by_part() -> None:
    parts = [b"first ", b"second ", b"third"]
    relayed: list[bytes] = []
    ready = [anyio.Event() for _ in parts]
    response = httpx.Response(200, stream=_Trickle(parts, relayed, ready))

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            relayed.append(message["body"])
            ready[len(relayed) - 1].set()

    await relay_response(response, send)
    assert relayed == parts


class _Broken(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"partial "
        raise httpx.ReadError(
            "connection reset while reading https://api.assemblyai.com/v2/transcript/secret-id"
        )


async def test_an_answer_cut_off_upstream_breaks_the_callers_answer_too() -> None:
    relayed: list[Message] = []

    async def send(message: Message) -> None:
        relayed.append(message)

    with pytest.raises(AnswerCutOff) as caught:
        await relay_response(httpx.Response(200, stream=_Broken()), send)
    assert "secret-id" not in str(caught.value)
    assert relayed[-1] == {"type": "http.response.body", "body": b"partial ", "more_body": True}
