"""One caller cannot hold the server: session and SSE stream caps per principal below the global
ones, idle sessions expire, and half-sent requests (no token needed) are closed after a deadline
while other clients keep being served. Real uvicorn, built with the configuration `serve` uses."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from pydantic import ValidationError

from aai_mcp.access import Scopes
from tests.support.raw_mcp import HEADERS, INITIALIZE, SECRET, Session, bearer, request, token_settings
from tests.support.servers import clean_env, serve_in_process, serve_in_thread, wait_until

READ_ONLY = Scopes(read_only=True)
SLOW_CLIENTS = 200
DEADLINE = 60.0  # generous: a loaded 2-core machine


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def open_session(http: httpx.Client, url: str, auth: dict[str, str]) -> httpx.Response:
    return http.post(url, json=INITIALIZE, headers={**HEADERS, **auth})


def test_one_token_cannot_fill_the_sessions(http: httpx.Client) -> None:
    settings = token_settings(max_sessions=5, max_sessions_per_principal=3)
    with serve_in_thread(settings) as base_url:
        url = f"{base_url}/mcp"
        flooder, second, victim = (
            bearer(READ_ONLY, name="flooder"),
            bearer(name="second"),
            bearer(name="victim"),
        )
        flood = [Session(http, url, flooder) for _ in range(3)]

        refused = open_session(http, url, flooder)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_sessions"
        assert "max_sessions_per_principal" in refused.json()["error"]["message"]
        # Everybody else is still served.
        assert Session(http, url, victim).result(request(1, "tools/list"))["result"]["tools"]

        # The global cap holds too, and says so with a 503 once all callers together reach it.
        Session(http, url, second)
        full = open_session(http, url, bearer(name="latecomer"))
        assert full.status_code == 503
        assert full.json()["error"]["code"] == "server_sessions_full"

        # Ending a session gives its slot back to the one that held it.
        assert flood[0].delete().status_code == 200
        assert open_session(http, url, flooder).status_code == 200


def test_idle_sessions_expire_and_give_their_slots_back(http: httpx.Client) -> None:
    settings = token_settings(max_sessions_per_principal=2, session_idle_timeout_seconds=1.0)
    with serve_in_thread(settings) as base_url:
        url = f"{base_url}/mcp"
        flooder = bearer(name="flooder")
        idle = [Session(http, url, flooder) for _ in range(2)]
        assert open_session(http, url, flooder).status_code == 429

        # Polls by opening (a request on an idle session would keep it alive).
        wait_until(lambda: open_session(http, url, flooder).status_code == 200, DEADLINE, "idle expiry")
        assert 404 in [session.post(request(1, "ping")).status_code for session in idle]


def test_sse_streams_are_capped_per_token(http: httpx.Client) -> None:
    settings = token_settings(max_sse_streams=3, max_sse_streams_per_principal=2)
    with serve_in_thread(settings) as base_url, ExitStack() as streams:
        flooder, other = bearer(name="flooder"), bearer(name="other")
        held = [
            streams.enter_context(http.stream("GET", f"{base_url}/sse", headers=flooder)) for _ in range(2)
        ]
        assert all(stream.status_code == 200 for stream in held)

        refused = http.get(f"{base_url}/sse", headers=flooder)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_sse_streams"
        with http.stream("GET", f"{base_url}/sse", headers=other) as served:
            assert served.status_code == 200
            full = http.get(f"{base_url}/sse", headers=bearer(name="third"))
            assert full.status_code == 503
            assert full.json()["error"]["code"] == "server_sse_streams_full"

        held[0].close()

        def reopened() -> bool:
            with http.stream("GET", f"{base_url}/sse", headers=flooder) as again:
                return again.status_code == 200

        wait_until(reopened, DEADLINE, "the closed stream's slot")


def half_sent(port: int, partial: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(partial)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Blocks until the server closes the socket (EOF or reset), up to the deadline."""
    sock.settimeout(DEADLINE)
    try:
        while sock.recv(4096):
            pass  # a response (a 408 or an early answer) may come first
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def test_slowloris_is_cut_off_and_other_clients_are_served(http: httpx.Client) -> None:
    settings = token_settings(request_header_timeout_seconds=2.0, max_connections=100, max_sse_streams=50)
    with serve_in_thread(settings) as base_url, ExitStack() as sockets:
        port = int(base_url.rsplit(":", 1)[1])
        started = time.monotonic()
        slow = [
            sockets.enter_context(half_sent(port, b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1"))
            for _ in range(SLOW_CLIENTS)
        ]

        # More half-open sockets than the server keeps: a real client still gets in, token and all.
        assert http.get(f"{base_url}/healthz").status_code == 200
        session = Session(http, f"{base_url}/mcp", bearer())
        assert session.result(request(1, "tools/list"))["result"]["tools"]

        assert all(closed_by_server(sock) for sock in slow)
        # Closed by the deadline or to make room, never left hanging for the client to give up.
        assert time.monotonic() - started < DEADLINE


def test_a_slow_second_request_on_a_kept_alive_connection_is_cut_off() -> None:
    settings = token_settings(request_header_timeout_seconds=1.0, keep_alive_timeout_seconds=600.0)
    with serve_in_thread(settings) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        with half_sent(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") as sock:
            sock.settimeout(DEADLINE)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and nothing more
            assert closed_by_server(sock)


def test_a_body_that_never_finishes_is_cut_off(http: httpx.Client) -> None:
    settings = token_settings(request_body_timeout_seconds=1.0)
    with serve_in_thread(settings) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        # With a valid token the app reads the body, so only a deadline can end the wait.
        auth = bearer()["Authorization"].encode()
        head = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\nAuthorization: " + auth
        with half_sent(port, head + b"\r\n\r\n" + b'{"jsonrpc": "2.0",') as sock:
            assert closed_by_server(sock)
        assert http.get(f"{base_url}/healthz").status_code == 200


def test_a_caller_cap_at_or_above_the_global_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="one caller cannot fill it"):
        token_settings(max_sessions=10, max_sessions_per_principal=10)
    with pytest.raises(ValidationError, match="one caller cannot fill it"):
        token_settings(max_sse_streams=4, max_sse_streams_per_principal=8)


def test_serve_applies_the_header_deadline(http: httpx.Client) -> None:
    """The same through `aai-mcp serve` and its flags: the configuration production runs with."""
    env = clean_env(AAI_MCP_TOKEN_SECRETS=SECRET)
    args = ("--auth", "tokens", "--request-header-timeout-seconds", "1", "--max-sessions-per-principal", "1")
    with serve_in_process(*args, env=env) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        with half_sent(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n") as sock:
            assert closed_by_server(sock)
        flooder = bearer(name="flooder")
        assert open_session(http, f"{server.base_url}/mcp", flooder).status_code == 200
        assert open_session(http, f"{server.base_url}/mcp", flooder).status_code == 429
        assert open_session(http, f"{server.base_url}/mcp", bearer(name="other")).status_code == 200
