"""New variants of the upload probes (issue 9, second review): internal addresses spelled as IPv6,
redirects the URL parser cannot join, paths that are not filesystem text, special files, files that
change size, DNS that never answers, proxy variables, compressed answers and huge header blocks."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from mcp.client import Client
from starlette.types import Receive, Scope, Send

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.handlers import safe_open
from aai_mcp.mcp_server.handlers.downloads import DOWNLOAD_FAILED
from aai_mcp.upstream.netguard import DNS_FAILED, REFUSED, is_public
from tests.support import make_settings
from tests.support.faults import serve_app_in_thread
from tests.test_upload_urls import (
    PUBLIC,
    FakeDNS,
    FakeNetwork,
    FakeUpstream,
    connections_waiting,
    dns,
    error_of,
    listener,
    network,
    upload,
)

pytestmark = pytest.mark.anyio
__all__ = ["dns", "network"]  # the fake DNS and network fixtures, shared with test_upload_urls

# Each stands for an internal IPv4 address, or lies outside IPv6's global unicast space.
INTERNAL_IPV6 = [
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:7f00:1",  # the same, in hex
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:0:7f00:1",  # IPv4-translated (SIIT, RFC 2765)
    "::ffff:0:a00:1",  # the same, 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 well-known prefix
    "64:ff9b:1:7f00:0:100:808:808",  # local-use NAT64 (/48 embedding: 127.0.0.1; last 32 bits public)
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "5f00::1",  # SRv6 SIDs (RFC 9602), not global unicast
    "3fff::1",  # documentation (RFC 9637)
    "::",
    "fe80::1",
]
PUBLIC_IPV6 = ["2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"]


@pytest.mark.parametrize("address", INTERNAL_IPV6)
async def test_internal_addresses_in_ipv6_clothing_are_refused(
    network: FakeNetwork, dns: FakeDNS, address: str
) -> None:
    assert not is_public(ipaddress.ip_address(address))
    dns.names["sneaky.example"] = [[address]]
    for url in ("http://sneaky.example/a.wav", f"http://[{address}]/a.wav"):
        assert error_of(await upload(url))["message"] == REFUSED, url
    assert network.dialled == []


@pytest.mark.parametrize("address", PUBLIC_IPV6)
def test_public_addresses_stay_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def redirecting(location: bytes) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 302, "headers": [(b"location", location)]})
        await send({"type": "http.response.body", "body": b""})

    return app


@pytest.mark.parametrize(
    ("location", "message"),
    [
        (b"//[", REFUSED),  # urljoin raised ValueError on these; httpx percent-encodes the host
        (b"http://x]/", REFUSED),
        (b"//a[b/c", REFUSED),
        (b"http://[::1", DOWNLOAD_FAILED),  # httpx refuses the answer itself
    ],
)
async def test_a_redirect_to_an_unparsable_location_is_a_tool_error(
    network: FakeNetwork, dns: FakeDNS, location: bytes, message: str
) -> None:
    upstream = FakeUpstream()
    with serve_app_in_thread(redirecting(location)) as base:
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await upload("http://media.example.com/a.wav", upstream)
    assert error_of(result)["message"] == message
    assert network.dialled == [(PUBLIC, 80)] and upstream.received == 0


class Upstream(httpx.AsyncBaseTransport):
    """/v2/upload that runs `during` once the first chunk arrived, and counts what it got."""

    def __init__(self, during: Any) -> None:
        self.during = during
        self.received = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async for chunk in request.stream:  # type: ignore[union-attr]
            if not self.received:
                self.during()
            self.received += len(chunk)
        return httpx.Response(200, json={"upload_url": "https://cdn.assemblyai.com/upload/abc"})


async def upload_path(root: Path, raw: str, upstream: httpx.AsyncBaseTransport | None = None) -> Any:
    gateway = build_gateway(make_settings(upload_roots=[root]), transport=upstream or FakeUpstream())
    try:
        async with Client(build_server(gateway)) as client:
            return await client.call_tool("upload_file", {"path": raw})
    finally:
        await gateway.aclose()


async def test_a_file_that_shrinks_while_it_is_uploaded_is_a_tool_error(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"R" * 3_000_000)  # several relay chunks
    upstream = Upstream(lambda: os.truncate(audio, 10))
    result = await upload_path(tmp_path, str(audio), upstream)
    error = error_of(result)  # not a success claiming 3 000 000 bytes of which a fraction was sent
    assert error["kind"] == "invalid_arguments" and "changed while" in error["message"]
    assert 0 < upstream.received < 3_000_000


async def test_a_file_that_grows_while_it_is_uploaded_sends_what_fstat_said(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"R" * 1_000_000)

    def grow() -> None:
        with audio.open("ab") as more:
            more.write(b"G" * 1_000_000)

    upstream = Upstream(grow)
    result = await upload_path(tmp_path, str(audio), upstream)
    assert not result.is_error and result.structured_content["size_bytes"] == 1_000_000
    assert upstream.received == 1_000_000


@pytest.mark.parametrize("name", ["\ud800.wav", "a\udfff"])
async def test_a_path_that_is_not_filesystem_text_is_a_tool_error(tmp_path: Path, name: str) -> None:
    result = await upload_path(tmp_path, f"{tmp_path}/{name}")
    error = error_of(result)
    assert error["kind"] == "invalid_arguments" and "not valid text" in error["message"]


@pytest.mark.parametrize("walk", [False, True])
async def test_a_special_file_is_judged_without_being_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, walk: bool
) -> None:
    """Opening a device can act (a watchdog arms, a serial line raises DTR, a tape rewinds): the name is
    looked up with O_PATH and only a regular file is opened for reading. A FIFO shows it: a writer
    waiting for a reader would be let through by any read open."""
    if walk:
        monkeypatch.setattr(safe_open, "openat2_beneath", lambda *args: None)
    fifo = tmp_path / "a.wav"
    os.mkfifo(fifo)
    writer_in = threading.Event()

    def write() -> None:
        os.close(os.open(fifo, os.O_WRONLY))  # blocks until some reader opens the FIFO
        writer_in.set()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        error = error_of(await upload_path(tmp_path, str(fifo)))
        # Let through by a reader, the writer finishes at once; otherwise this waits out the timeout.
        writer.join(timeout=2)
        assert not writer_in.is_set(), "the FIFO was opened for reading"
        assert error["kind"] == "invalid_arguments" and "No readable file" in error["message"]
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # lets a still waiting writer finish
        writer.join(timeout=10)


async def test_names_whose_dns_never_answers_stall_no_other_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lookups for downloads must not fill the event loop's shared executor: there, a few names whose
    DNS servers never answer held every other lookup (new AssemblyAI connections included)."""
    real, entered, release = socket.getaddrinfo, threading.Semaphore(0), threading.Event()

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.endswith(".hangs.example"):
            entered.release()
            release.wait(timeout=120)
            raise socket.gaierror(socket.EAI_AGAIN, "timed out")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    # Three threads, whatever the machine's CPU count; the loop shuts it down when it closes (the
    # loop may outlive this test, so it stays usable).
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=3))
    gateway = build_gateway(make_settings(), transport=FakeUpstream())
    errors: list[dict[str, Any]] = []
    try:
        async with Client(build_server(gateway)) as client, anyio.create_task_group() as tasks:

            async def download(n: int) -> None:
                errors.append(
                    error_of(await client.call_tool("upload_file", {"url": f"http://m{n}.hangs.example/a"}))
                )

            for n in range(12):
                tasks.start_soon(download, n)
            for _ in range(3):  # as many stalled lookups as the shared executor has threads
                assert await anyio.to_thread.run_sync(entered.acquire, True, 60)
            try:
                with anyio.fail_after(20):
                    assert await anyio.getaddrinfo("127.0.0.1", 80)  # through the shared executor
            finally:
                release.set()
    finally:
        release.set()
        await gateway.aclose()
    # "No answer for now" is the resolver's state, not the name's: the one lookup failure told apart.
    assert len(errors) == 12 and all(error["message"] == DNS_FAILED for error in errors)
    assert all((error["kind"], error["retryable"]) == ("dns_failed", True) for error in errors)


def serving(body: bytes, headers: list[tuple[bytes, bytes]], seen: list[dict[bytes, bytes]]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["headers"]))
        length = (b"content-length", str(len(body)).encode())
        await send({"type": "http.response.start", "status": 200, "headers": [*headers, length]})
        await send({"type": "http.response.body", "body": body})

    return app


async def test_proxy_variables_are_ignored(
    network: FakeNetwork, dns: FakeDNS, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would dial its own address, unchecked and unpinned, and see every URL (httpx skips
    environment proxies when given a transport, and trust_env=False says so twice)."""
    seen: list[dict[bytes, bytes]] = []
    with listener() as (port, proxy), serve_app_in_thread(serving(b"RIFF" * 10, [], seen)) as base:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await upload("http://media.example.com/a.wav")
        assert connections_waiting(proxy) == 0
    assert not result.is_error and network.dialled == [(PUBLIC, 80)] and len(seen) == 1


async def test_a_compressed_answer_is_relayed_as_received_and_counted_so(
    network: FakeNetwork, dns: FakeDNS
) -> None:
    """No decompression: a gzip bomb is relayed (and capped) at its compressed size, memory stays flat."""
    bomb, seen, upstream = gzip.compress(b"\0" * 20_000_000), [], FakeUpstream()
    with serve_app_in_thread(serving(bomb, [(b"content-encoding", b"gzip")], seen)) as base:
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await upload("http://media.example.com/a.wav", upstream, upload_max_download_bytes=1_000_000)
    assert not result.is_error and result.structured_content["size_bytes"] == len(bomb) < 1_000_000
    assert upstream.bodies == [bomb] and seen[0][b"accept-encoding"] == b"identity"


async def test_a_huge_header_block_is_a_download_failure(network: FakeNetwork, dns: FakeDNS) -> None:
    """2 MB of response headers: h11 stops reading at 100 KiB, so memory stays bounded."""
    headers = [(f"x-filler-{n}".encode(), b"v" * 1000) for n in range(2000)]
    upstream, seen = FakeUpstream(), []
    with serve_app_in_thread(serving(b"RIFF", headers, seen)) as base:
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await upload("http://media.example.com/a.wav", upstream)
    assert error_of(result)["message"] == DOWNLOAD_FAILED and upstream.received == 0 and len(seen) == 1
