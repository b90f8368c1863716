"""`POST /v2/upload` streams the body: it keeps a count, a hash and the first bytes only."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

CHUNK = 64 * 1024
OCTET = {"Content-Type": "application/octet-stream"}


async def chunks(total: int, first: bytes = b"RIFF\x00\x00\x00\x00WAVEfmt ") -> AsyncIterator[bytes]:
    """`total` bytes of one reused chunk, so the generator itself holds almost nothing."""
    block = (first + b"\x00" * CHUNK)[:CHUNK]
    filler = b"\x00" * CHUNK
    sent = 0
    while sent < total:
        piece = block if sent == 0 else filler
        piece = piece[: total - sent]
        sent += len(piece)
        yield piece


async def test_upload_returns_a_cdn_url_and_records_size_and_hash(sim: Harness) -> None:
    data = b"ID3" + bytes(range(256)) * 40
    url = await sim.upload(data)
    assert url.startswith("https://cdn.assemblyai.com/upload/")
    uploaded = sim.simulator.uploads[url.rsplit("/", 1)[1]]
    assert uploaded.size == len(data)
    assert uploaded.sha256 == hashlib.sha256(data).hexdigest()
    assert uploaded.audio_container == "mp3"


async def test_fifty_megabytes_stream_through_without_buffering(sim: Harness) -> None:
    total = 50 * 1024 * 1024
    tracemalloc.start()
    try:
        response = await sim.client.post("/v2/upload", content=chunks(total), headers=OCTET)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.text
    uploaded = list(sim.simulator.uploads.values())[0]
    assert uploaded.size == total
    assert uploaded.max_chunk == CHUNK
    assert uploaded.head.startswith(b"RIFF")
    expected = hashlib.sha256()
    async for piece in chunks(total):
        expected.update(piece)
    assert uploaded.sha256 == expected.hexdigest()
    assert peak < 8 * 1024 * 1024, f"peak traced memory {peak} bytes suggests the body was buffered"


async def test_missing_content_type_is_accepted_like_the_sdk_sends(sim: Harness) -> None:
    response = await sim.client.post("/v2/upload", content=b"fLaC" + b"\x00" * 100)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=x", "application/json", "application/x-www-form-urlencoded"],
)
async def test_non_raw_bodies_are_rejected(sim: Harness, content_type: str) -> None:
    response = await sim.client.post("/v2/upload", content=b"{}", headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert "application/octet-stream" in response.json()["error"]


async def test_empty_body_is_rejected(sim: Harness) -> None:
    response = await sim.client.post("/v2/upload", content=b"", headers=OCTET)
    assert response.status_code == 400
    assert "empty" in response.json()["error"]


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", "wav"),
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x00", "mpeg"),
        (b"fLaC\x00\x00", "flac"),
        (b"OggS\x00\x02", "ogg"),
        (b"\x00\x00\x00\x20ftypM4A ", "mp4"),
        (b"\x1a\x45\xdf\xa3\x01", "webm"),
    ],
)
async def test_known_containers_are_sniffed(sim: Harness, head: bytes, kind: str) -> None:
    url = await sim.upload(head + b"\x00" * 64)
    assert sim.simulator.uploads[url.rsplit("/", 1)[1]].audio_container == kind


async def test_upload_needs_the_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/v2/upload", content=b"ID3", headers={"Authorization": "wrong", **OCTET})
    assert response.status_code == 401
