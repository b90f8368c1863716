"""Host and Origin checks in front of every route, and repeated credential headers, over real sockets.

Requests are written byte for byte on a raw socket: an HTTP client library would tidy up exactly the
malformed and repeated headers these tests are about.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from aai_mcp.access import HEADER_NAME
from aai_mcp.cli.main import main
from aai_mcp.transports.host_check import (
    Authority,
    allowed_host,
    allowed_origin,
    host_policy,
    parse_host,
    parse_origin,
)
from tests.support import make_settings
from tests.support.servers import serve_in_thread

INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
)
# Hosts a prefix or wildcard match let through, and other things that are not `name[:port]`.
BAD_HOSTS = [
    "127.0.0.1:80@evil.com",
    "127.0.0.1:abc",
    "127.0.0.1:",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "127.0.0.1:80:80",
    "127.0.0.1.evil.com",
    "localhost.evil.com:80",
    "127.0.0.1/x",
    "127.0.0.1%2f",
    "[::1]x",
    "[::1]:80@evil.com",
    "::1",
    "evil.example",
    "evil.example:8000",
    "",
]
MALFORMED_ORIGINS = [
    "http://127.0.0.1:80@evil.com",
    "http://127.0.0.1@evil.com",
    "http://evil.com#@127.0.0.1",
    "http://127.0.0.1:8000/",
    "http://127.0.0.1:8000/path",
    "http://127.0.0.1:abc",
    "http://127.0.0.1:0",
    "http://[::1",
    "null",
    "127.0.0.1",
    "",
]
BAD_ORIGINS = [
    *MALFORMED_ORIGINS,
    "http://127.0.0.1.evil.com",
    "https://evil.example",
    "http://localhost.:80",
]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def raw_request(
    base_url: str, method: str, path: str, headers: list[tuple[str, str]], body: str = ""
) -> Answer:
    """One request with exactly these header lines (Host included), read until the server closes."""
    address = urlsplit(base_url)
    lines = [f"{method} {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    lines += ["Connection: close", f"Content-Length: {len(body.encode())}", "", body]
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall("\r\n".join(lines).encode("latin-1"))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in header_lines)
    return Answer(int(status_line.split()[1]), {k.lower(): v for k, v in fields.items()}, payload)


def mcp_headers(host: str) -> list[tuple[str, str]]:
    return [
        ("Host", host),
        ("Accept", "application/json, text/event-stream"),
        ("Content-Type", "application/json"),
    ]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    settings = make_settings(
        api_key=None,
        allowed_hosts=["mcp.example.com", "api.example.com:8443"],
        allowed_origins=["https://chatgpt.com"],
    )
    with serve_in_thread(settings) as url:
        yield url


@pytest.fixture(scope="module")
def own_host(base_url: str) -> str:
    return urlsplit(base_url).netloc


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", BAD_HOSTS)
def test_bad_hosts_do_not_parse_or_are_not_allowed(value: str) -> None:
    policy = host_policy("127.0.0.1", ["mcp.example.com"], [])
    assert not policy.host_allowed(value)


def test_hosts_parse_to_a_canonical_name_and_port() -> None:
    assert parse_host("LocalHost:8000") == Authority("localhost", 8000)
    assert parse_host("[0:0:0:0:0:0:0:1]:80") == Authority("[::1]", 80)
    assert parse_host("127.0.0.1") == Authority("127.0.0.1")
    for value in ("127.1", "01.2.3.4", "1.2.3.4.5", "[fe80::1%25eth0]", "a..b", "-a.com", "a b"):
        assert parse_host(value) is None, value


def test_origins_parse_exactly() -> None:
    assert parse_origin("HTTPS://ChatGPT.com:443") == parse_origin("https://chatgpt.com")
    for value in MALFORMED_ORIGINS:
        assert parse_origin(value) is None, value


def test_configured_hosts_and_origins_keep_their_meaning() -> None:
    policy = host_policy("0.0.0.0", ["mcp.example.com", "api.example.com:8443", "old.example.com:*"], [
        "https://chatgpt.com", "http://localhost:*",
    ])  # fmt: skip
    assert policy.host_allowed("mcp.example.com") and policy.host_allowed("MCP.example.com:443")
    assert policy.host_allowed("api.example.com:8443") and not policy.host_allowed("api.example.com:8444")
    assert not policy.host_allowed("api.example.com") and policy.host_allowed("old.example.com:1")
    assert not policy.host_allowed("0.0.0.0:8000"), "a wildcard bind address is not a name"
    assert policy.origin_allowed("https://chatgpt.com") and policy.origin_allowed("https://chatgpt.com:443")
    assert not policy.origin_allowed("https://chatgpt.com:8443") and not policy.origin_allowed(
        "http://chatgpt.com"
    )
    assert policy.origin_allowed("http://localhost:5173") and policy.origin_allowed("https://[::1]:1")
    assert host_policy("10.1.2.3", [], []).host_allowed("10.1.2.3:8000")


@pytest.mark.parametrize("entry", ["mcp.example.com/x", "a@b", "*.example.com", "host:0"])
def test_a_configured_host_that_is_not_one_is_refused_at_start(entry: str) -> None:
    with pytest.raises(ValueError, match="allowed host"):
        allowed_host(entry)


@pytest.mark.parametrize("entry", ["chatgpt.com", "https://chatgpt.com/", "https://u@chatgpt.com"])
def test_a_configured_origin_that_is_not_one_is_refused_at_start(entry: str) -> None:
    with pytest.raises(ValueError, match="allowed origin"):
        allowed_origin(entry)


# --- over HTTP: every route, before routing -----------------------------------------------------------

ROUTES = [
    ("POST", "/mcp", INITIALIZE),
    ("GET", "/sse", ""),
    ("POST", "/messages/?session_id=x", "{}"),
    ("GET", "/healthz", ""),
]


@pytest.mark.parametrize("host", BAD_HOSTS)
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_bad_host_gets_421_on_every_route(
    base_url: str, host: str, method: str, path: str, body: str
) -> None:
    answer = raw_request(base_url, method, path, mcp_headers(host), body)
    assert answer.status == 421, (host, path, answer.body)
    assert answer.json()["error"] == {"code": "invalid_host", "message": "Invalid Host header"}


@pytest.mark.parametrize("origin", BAD_ORIGINS)
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_bad_origin_gets_403_on_every_route(
    base_url: str, own_host: str, origin: str, method: str, path: str, body: str
) -> None:
    answer = raw_request(base_url, method, path, [*mcp_headers(own_host), ("Origin", origin)], body)
    assert answer.status == 403, (origin, path, answer.body)
    assert answer.json()["error"]["code"] == "invalid_origin"


def test_the_team_proxy_refuses_a_bad_host_or_origin_in_its_own_shape(base_url: str, own_host: str) -> None:
    path = "/v1/assemblyai/v2/transcript"
    bad_host = raw_request(base_url, "GET", path, mcp_headers("evil.example"))
    assert bad_host.status == 421
    assert bad_host.json() == {"error": "Invalid Host header", "code": "invalid_host"}
    bad_origin = raw_request(
        base_url, "GET", path, [*mcp_headers(own_host), ("Origin", "https://evil.example")]
    )
    assert bad_origin.status == 403 and bad_origin.json()["code"] == "invalid_origin"
    assert isinstance(bad_origin.json()["error"], str)


def test_the_trailing_slash_redirect_never_echoes_a_bad_host(base_url: str, own_host: str) -> None:
    refused = raw_request(base_url, "POST", "/messages", mcp_headers("127.0.0.1:80@evil.com"), "{}")
    assert refused.status == 421 and "location" not in refused.headers
    redirected = raw_request(base_url, "POST", "/messages", mcp_headers(own_host), "{}")
    assert redirected.status == 307
    assert redirected.headers["location"] == f"http://{own_host}/messages/"


def test_missing_or_repeated_host_and_origin_are_refused(base_url: str, own_host: str) -> None:
    no_host = [h for h in mcp_headers(own_host) if h[0] != "Host"]
    assert raw_request(base_url, "GET", "/healthz", no_host).status in (400, 421)
    two_hosts = [*mcp_headers(own_host), ("Host", own_host)]
    assert raw_request(base_url, "GET", "/healthz", two_hosts).status in (400, 421)
    two_origins = [
        *mcp_headers(own_host),
        ("Origin", f"http://{own_host}"),
        ("Origin", "https://evil.example"),
    ]
    assert raw_request(base_url, "GET", "/healthz", two_origins).status == 403


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        (None, None),
        ("localhost:{port}", "http://localhost:{port}"),
        ("[::1]:{port}", "https://[::1]:5173"),
        ("mcp.example.com", "https://chatgpt.com"),
        ("MCP.EXAMPLE.COM:443", "https://ChatGPT.com:443"),
        ("api.example.com:8443", None),
    ],
)
def test_allowed_hosts_and_origins_reach_mcp(
    base_url: str, own_host: str, host: str | None, origin: str | None
) -> None:
    port = own_host.rsplit(":", 1)[1]
    headers = mcp_headers(host.format(port=port) if host else own_host)
    if origin:
        headers.append(("Origin", origin.format(port=port)))
    answer = raw_request(base_url, "POST", "/mcp", headers, INITIALIZE)
    assert answer.status == 200, answer.body
    assert raw_request(base_url, "GET", "/healthz", headers).status == 200


# --- repeated credential headers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def token_server() -> Iterator[str]:
    settings = make_settings(api_key=None, auth=["tokens", "passthrough-key"], token_secrets="s" * 40)
    with serve_in_thread(settings) as url:
        yield url


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Authorization", "authorization"),
        ("X-AssemblyAI-Key", "X-AssemblyAI-Key"),
        (HEADER_NAME, HEADER_NAME.upper()),
    ],
)
@pytest.mark.parametrize("path", ["/mcp", "/mcp/t/aai1.x", "/sse", "/healthz"])
def test_a_repeated_credential_header_is_400(token_server: str, first: str, second: str, path: str) -> None:
    host = urlsplit(token_server).netloc
    headers = [*mcp_headers(host), (first, "Bearer one"), (second, "Bearer two")]
    answer = raw_request(
        token_server, "POST" if path.startswith("/mcp") else "GET", path, headers, INITIALIZE
    )
    assert answer.status == 400, answer.body
    assert answer.json()["error"]["code"] == "duplicate_header"


def test_one_of_each_credential_header_is_not_a_duplicate(token_server: str) -> None:
    host = urlsplit(token_server).netloc
    headers = [*mcp_headers(host), ("Authorization", "Bearer caller-key"), ("X-AssemblyAI-Key", "caller-key")]
    answer = raw_request(token_server, "POST", "/mcp", headers, INITIALIZE)
    assert answer.status == 200, answer.body


def test_serve_refuses_a_malformed_allowed_host_or_origin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--allowed-hosts", "mcp.example.com/x"]) == 2
    assert "allowed host 'mcp.example.com/x' is not a host name" in capsys.readouterr().err
    assert main(["serve", "--allowed-origins", "chatgpt.com"]) == 2
    assert "allowed origin 'chatgpt.com' is not of the form" in capsys.readouterr().err


def test_the_host_is_checked_before_credentials(token_server: str) -> None:
    for path in ("/mcp", "/mcp/t/aai1.x", "/messages"):
        answer = raw_request(token_server, "POST", path, mcp_headers("127.0.0.1:80@evil.com"), INITIALIZE)
        assert answer.status == 421, (path, answer.body)
        assert "www-authenticate" not in answer.headers and "location" not in answer.headers
        assert answer.headers["x-aai-mcp-instance"].startswith("aai-mcp-")
