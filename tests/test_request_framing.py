"""A request with both Content-Length and Transfer-Encoding is framed differently by different
servers (a proxy in front may read a second, smuggled request as body): it is refused with 400 and
the connection closed, so nothing after it on that connection is served."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.support import make_settings
from tests.support.servers import serve_in_thread


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_in_thread(make_settings(api_key=None)) as url:
        yield url


def exchange(base_url: str, data: bytes) -> bytes:
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize("encoding", [b"chunked", b"gzip, chunked", b"identity"])
def test_length_and_transfer_encoding_together_are_refused_and_close(base_url: str, encoding: bytes) -> None:
    host = urlsplit(base_url).netloc.encode()
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
    first = (
        b"POST /mcp HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: " + encoding + b"\r\n\r\n0\r\n\r\n"
    )
    received = exchange(base_url, first + smuggled)
    assert received.count(b"HTTP/1.1 ") == 1, received
    assert received.startswith(b"HTTP/1.1 400 "), received
