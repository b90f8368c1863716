"""upload_file(url) over real loopback sockets: the connection goes to the address that was checked
(DNS rebinding reaches nothing inside), refused and unreachable targets all look alike, and a
download is bounded in bytes and in time."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx
import pytest
from httpcore._backends.base import SOCKET_OPTION
from mcp.client import Client
from starlette.types import Receive, Scope, Send

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.handlers.downloads import DOWNLOAD_FAILED
from aai_mcp.upstream.netguard import REFUSED, PinnedBackend, Pins
from tests.support import error_details, make_settings, wav_bytes
from tests.support.faults import refusing_port, serve_app_in_thread

pytestmark = pytest.mark.anyio

CDN = "https://cdn.assemblyai.com/upload/abc"
PUBLIC, OTHER_PUBLIC = "93.184.216.34", "93.184.216.35"
FAILED = {"message": DOWNLOAD_FAILED, "kind": "download_failed", "status": None, "retryable": True}


class FakeUpstream(httpx.AsyncBaseTransport):
    """AssemblyAI's /v2/upload: counts the bytes relayed to it as they stream in."""

    def __init__(self) -> None:
        self.received = 0
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = b""
        async for chunk in request.stream:  # type: ignore[union-attr]
            self.received += len(chunk)
            body += chunk
        self.bodies.append(body)
        return httpx.Response(200, json={"upload_url": CDN})


class RecordingStream(httpcore.AsyncNetworkStream):
    """A connection that only records the TLS server name it was asked for."""

    def __init__(self, names: list[str | None]) -> None:
        self.names = names

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        self.names.append(server_hostname)
        raise httpcore.ConnectError("no TLS in this test")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        return None

    async def aclose(self) -> None:
        return None


class FakeNetwork(httpcore.AsyncNetworkBackend):
    """The internet for a test: each public address leads to a loopback port, or nowhere."""

    def __init__(self) -> None:
        self.routes: dict[str, int] = {}
        self.dialled: list[tuple[str, int]] = []
        self.tls_names: list[str | None] = []
        self.real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.dialled.append((host, port))
        if port == 443:
            return RecordingStream(self.tls_names)
        if host not in self.routes:
            raise httpcore.ConnectError("unreachable")
        return await self.real.connect_tcp("127.0.0.1", self.routes[host], timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self.real.sleep(seconds)


class FakeDNS:
    def __init__(self) -> None:
        self.names: dict[str, list[list[str]]] = {
            "media.example.com": [[PUBLIC]],
            "other.example.com": [[OTHER_PUBLIC]],
            "internal.corp": [["10.1.2.3"]],
            "mixed.example": [[PUBLIC, "10.0.0.5"]],
        }
        self.lookups: list[str] = []

    async def resolve(self, hostname: str, port: int) -> list[Any]:
        """Successive answers for a name (the last one repeats); IP literals answer themselves."""
        self.lookups.append(hostname)
        try:
            return [ipaddress.ip_address(hostname)]
        except ValueError:
            pass
        if hostname not in self.names:
            return []
        answers = self.names[hostname]
        return [ipaddress.ip_address(a) for a in (answers.pop(0) if len(answers) > 1 else answers[0])]


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> FakeNetwork:
    fake = FakeNetwork()
    monkeypatch.setattr("aai_mcp.mcp_server.handlers.downloads.dialer", lambda: fake)
    return fake


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr("aai_mcp.upstream.netguard.resolve", fake.resolve)
    return fake


async def upload(url: str, upstream: FakeUpstream | None = None, **settings: Any) -> Any:
    gateway = build_gateway(make_settings(**settings), transport=upstream or FakeUpstream())
    try:
        async with Client(build_server(gateway)) as client:
            return await client.call_tool("upload_file", {"url": url})
    finally:
        await gateway.aclose()


def error_of(result: Any) -> dict[str, Any]:
    assert result.is_error, result.content
    return error_details(result)


@contextmanager
def listener() -> Iterator[tuple[int, socket.socket]]:
    """A loopback port that listens but never accepts: any connection made waits in its backlog."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock.getsockname()[1], sock


def connections_waiting(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            sock.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


@contextmanager
def hanging_up() -> Iterator[int]:
    """A loopback port that accepts each connection and closes it at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.settimeout(0.2)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    sock.accept()[0].close()
                except TimeoutError:
                    continue

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield sock.getsockname()[1]
        finally:
            stop.set()
            thread.join(timeout=10)


def media_app(audio: bytes, hosts: list[str]) -> Any:
    """/a.wav redirects to /b.wav on the same host, which serves `audio`; records each Host header."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        hosts.append(dict(scope["headers"])[b"host"].decode())
        if scope["path"] == "/a.wav":
            await send({"type": "http.response.start", "status": 302, "headers": [(b"location", b"/b.wav")]})
            await send({"type": "http.response.body", "body": b""})
            return
        length = str(len(audio)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]})
        await send({"type": "http.response.body", "body": audio})

    return app


# --- pinning -------------------------------------------------------------------------------------


async def test_the_connection_goes_to_the_checked_address(network: FakeNetwork, dns: FakeDNS) -> None:
    audio, hosts, upstream = wav_bytes(0.2), [], FakeUpstream()
    with serve_app_in_thread(media_app(audio, hosts)) as base:
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await upload("http://media.example.com/a.wav", upstream)
    assert not result.is_error, result.content
    assert upstream.bodies == [audio]
    assert hosts == ["media.example.com", "media.example.com"]  # Host is the name, not the address
    assert set(network.dialled) == {(PUBLIC, 80)}  # both hops dialled the pinned address
    assert dns.lookups == ["media.example.com"]  # resolved once, for both hops


async def test_each_checked_address_is_tried_in_turn(network: FakeNetwork, dns: FakeDNS) -> None:
    ipv6 = "2606:2800:220:1:248:1893:25c8:1946"  # public, and unroutable in this test
    dns.names["dual.example"] = [[ipv6, PUBLIC]]
    audio, hosts, upstream = wav_bytes(0.1), [], FakeUpstream()
    with serve_app_in_thread(media_app(audio, hosts)) as base:
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await upload("http://dual.example/b.wav", upstream)
    assert not result.is_error, result.content
    assert network.dialled == [(ipv6, 80), (PUBLIC, 80)] and upstream.bodies == [audio]


async def test_a_host_that_was_not_checked_is_never_dialled(network: FakeNetwork) -> None:
    backend = PinnedBackend(Pins(allow_private=True), network)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("media.example.com", 80)
    assert network.dialled == []


async def test_dns_rebinding_never_reaches_an_internal_listener(network: FakeNetwork, dns: FakeDNS) -> None:
    """The name answers public first and loopback afterwards: the request goes to the public answer,
    the next call is refused, and the loopback listener never sees a connection."""
    dns.names["localhost"] = [[PUBLIC], ["127.0.0.1"]]
    upstream = FakeUpstream()
    with listener() as (port, internal):
        first = await upload(f"http://localhost:{port}/admin/export", upstream)
        second = await upload(f"http://localhost:{port}/admin/export", upstream)
        assert connections_waiting(internal) == 0
    assert network.dialled == [(PUBLIC, port)]
    assert error_of(first)["message"] == DOWNLOAD_FAILED  # the public answer is unreachable here
    assert error_of(second)["message"] == REFUSED
    assert upstream.received == 0


async def test_tls_is_verified_for_the_host_name_not_the_address(network: FakeNetwork, dns: FakeDNS) -> None:
    result = await upload("https://media.example.com/a.wav")
    assert network.dialled == [(PUBLIC, 443)]
    assert network.tls_names == ["media.example.com"]
    assert error_of(result)["kind"] == "download_failed"


# --- one answer for every refused or unreachable target ------------------------------------------


async def test_every_refused_target_gets_the_same_error(network: FakeNetwork, dns: FakeDNS) -> None:
    hosts: list[str] = []
    with (
        listener() as (open_port, internal),
        refusing_port() as closed,
        serve_app_in_thread(redirect_to(f"http://127.0.0.1:{open_port}/x", hosts)) as redirecting,
    ):
        network.routes[PUBLIC] = int(redirecting.rsplit(":", 1)[1])
        urls = [
            f"http://127.0.0.1:{open_port}/x",  # a port that is open
            f"{closed}/x",  # a port that is closed
            "http://internal.corp/x",
            "http://mixed.example/x",  # one public and one private answer
            "http://no-such-name.corp/x",  # does not resolve
            "http://media.example.com/hop",  # public, redirecting to the open loopback port
        ]
        errors = [error_of(await upload(url)) for url in urls]
        assert connections_waiting(internal) == 0
    assert all(error == errors[0] for error in errors), errors
    first = errors[0]
    assert (first["message"], first["kind"], first["retryable"]) == (REFUSED, "url_refused", False)
    assert hosts == ["media.example.com"]


def redirect_to(location: str, hosts: list[str]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        hosts.append(dict(scope["headers"])[b"host"].decode())
        headers = [(b"location", location.encode())]
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    return app


async def test_unreachable_public_targets_all_get_the_same_error(network: FakeNetwork, dns: FakeDNS) -> None:
    with refusing_port() as closed, hanging_up() as hangs_up:
        network.routes[PUBLIC] = int(closed.rsplit(":", 1)[1])  # connection refused
        network.routes[OTHER_PUBLIC] = hangs_up  # connected, then closed before an answer
        urls = ["http://media.example.com/a", "http://other.example.com/a", "http://media.example.com:8080/a"]
        dns.names["media.example.com"] = [[PUBLIC]]
        errors = [error_of(await upload(url)) for url in urls]
    network.routes.clear()
    errors.append(error_of(await upload("http://other.example.com/a")))  # no route at all
    assert all(error == errors[0] for error in errors), errors
    assert errors[0] == FAILED


@pytest.mark.parametrize("port", ["99999", "-1", "0", "65536", "abc"])
async def test_bad_ports_are_tool_errors(dns: FakeDNS, port: str) -> None:
    result = await upload(f"http://media.example.com:{port}/a.wav")
    assert error_of(result)["kind"] == "invalid_arguments"
    assert "not a valid URL" in result.content[0].text
    assert dns.lookups == []


# --- bounds --------------------------------------------------------------------------------------


def chunked_app(chunk: bytes, count: int, then_hang: bool = False) -> Any:
    """Sends `count` chunks with no Content-Length (chunked), then ends or waits for the client to go."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(count):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if then_hang:
            while (await receive())["type"] != "http.disconnect":
                pass
        await send({"type": "http.response.body", "body": b""})

    return app


async def test_a_chunked_download_stops_at_the_byte_cap(network: FakeNetwork, dns: FakeDNS) -> None:
    cap, upstream = 300 * 1024, FakeUpstream()  # more than one 256 KiB relay chunk, less than two
    with serve_app_in_thread(chunked_app(b"x" * 16 * 1024, 128)) as base:  # 2 MiB, no Content-Length
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await upload("http://media.example.com/big", upstream, upload_max_download_bytes=cap)
    error = error_of(result)
    assert error["kind"] == "invalid_arguments" and str(cap) in error["message"]
    assert 0 < upstream.received <= cap


async def test_a_declared_length_over_the_cap_is_refused_before_relaying(
    network: FakeNetwork, dns: FakeDNS
) -> None:
    upstream, hosts = FakeUpstream(), []
    with serve_app_in_thread(media_app(b"x" * 5000, hosts)) as base:
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await upload("http://media.example.com/b.wav", upstream, upload_max_download_bytes=4000)
    assert "5000 bytes" in error_of(result)["message"] and upstream.received == 0


async def test_a_slow_download_stops_at_the_deadline(network: FakeNetwork, dns: FakeDNS) -> None:
    upstream = FakeUpstream()
    with serve_app_in_thread(chunked_app(b"RIFF" * 1024, 1, then_hang=True)) as base:
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        started = time.monotonic()
        result = await upload(
            "http://media.example.com/drip",
            upstream,
            upload_download_deadline_seconds=1.0,
            upload_timeout_seconds=120.0,  # no single read times out: only the deadline can end it
        )
    assert time.monotonic() - started < 60
    error = error_of(result)
    assert error["kind"] == "download_failed" and "deadline" in error["message"]


async def test_a_connection_broken_mid_download_is_a_tool_error(network: FakeNetwork, dns: FakeDNS) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"100000")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"RIFF" * 10})  # then the app ends: cut off

    with serve_app_in_thread(app) as base:
        network.routes[PUBLIC] = int(base.rsplit(":", 1)[1])
        result = await upload("http://media.example.com/cut")
    assert error_of(result) == FAILED
