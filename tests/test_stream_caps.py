"""Held connections are counted wherever a client can hold one: made-up passthrough keys share their
client address's caps, a session's GET stream counts against the SSE stream caps, and stateless mode
offers no stream to hold. Real uvicorn, built with the configuration `serve` uses."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from aai_mcp.access import Scopes, mint
from aai_mcp.access.principal import SCOPE_KEY, Principal
from aai_mcp.transports.limits import holders_of
from tests.support import make_settings
from tests.support.raw_mcp import (
    HEADERS,
    INITIALIZE,
    SECRET,
    VERSION,
    Session,
    bearer,
    request,
    token_settings,
)
from tests.support.servers import serve_in_thread, wait_until

TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8  # linux/tcp_states.h


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def key(name: str, address: str = "10.0.0.1") -> dict[str, str]:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 (a local reverse proxy), so this is the client address.
    return {"X-AssemblyAI-Key": f"made-up-key-{name}", "X-Forwarded-For": address}


def test_made_up_passthrough_keys_from_one_address_cannot_fill_the_sessions(http: httpx.Client) -> None:
    caps = {"max_sessions": 6, "max_sessions_per_principal": 2}
    settings = make_settings(api_key=None, auth=["passthrough-key"], **caps)
    with serve_in_thread(settings) as base_url:
        url = f"{base_url}/mcp"
        Session(http, url, key("a"))
        Session(http, url, key("b"))

        # A third made-up key from the same address: the address holds its share already.
        refused = http.post(url, json=INITIALIZE, headers={**HEADERS, **key("c")})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_sessions"
        # Another client is still served, whatever the flooder does.
        other = Session(http, url, key("victim", address="10.0.0.2"))
        assert other.result(request(1, "tools/list"))["result"]["tools"]


def test_a_sessions_get_stream_counts_against_the_stream_caps(http: httpx.Client) -> None:
    settings = token_settings(max_sse_streams=3, max_sse_streams_per_principal=2)
    with serve_in_thread(settings) as base_url, ExitStack() as streams:
        url = f"{base_url}/mcp"
        flooder = bearer(name="flooder")
        sessions = [Session(http, url, flooder) for _ in range(3)]
        held = [streams.enter_context(session.stream("GET")) for session in sessions[:2]]
        assert all(stream.status_code == 200 for stream in held)

        refused = http.get(url, headers=sessions[2].headers())
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_sse_streams"
        # Legacy /sse streams and GET streams share the caps: one more for anybody fills the server.
        streams.enter_context(http.stream("GET", f"{base_url}/sse", headers=bearer(name="other")))
        full = http.get(url, headers=Session(http, url, bearer(name="third")).headers())
        assert full.status_code == 503


def test_stateless_mode_offers_no_get_stream_to_hold(http: httpx.Client) -> None:
    with serve_in_thread(token_settings(stateless=True)) as base_url:
        headers = {**HEADERS, **bearer(), "MCP-Protocol-Version": VERSION}
        with http.stream("GET", f"{base_url}/mcp", headers=headers) as response:
            assert response.status_code == 405
            assert response.headers["allow"] == "POST"
        answer = http.post(f"{base_url}/mcp", json=INITIALIZE, headers=headers)
        assert answer.status_code == 200


@pytest.mark.parametrize(
    ("client", "bucket"),
    [
        (("203.0.113.7", 5000), "address:203.0.113.7"),
        (("2001:db8:1:2:aaaa::1", 5000), "address:2001:db8:1:2::/64"),
        (("2001:db8:1:2:bbbb::9", 5000), "address:2001:db8:1:2::/64"),
    ],
)
def test_unverified_callers_are_counted_by_address_ipv6_by_64(client: tuple[str, int], bucket: str) -> None:
    unverified = {"client": client, SCOPE_KEY: Principal(id="passthrough:abc")}
    assert holders_of(unverified) == ("passthrough:abc", bucket)
    # A token was minted by the operator: its holder is counted as itself only.
    assert holders_of({"client": client, SCOPE_KEY: Principal(id="jti-1")}) == ("jti-1",)


def test_streams_must_leave_connections_for_requests() -> None:
    with pytest.raises(ValidationError, match="below max_connections"):
        token_settings(max_sse_streams=512, max_connections=512)


def test_a_client_that_stops_reading_its_responses_is_cut_off(http: httpx.Client) -> None:
    settings = token_settings(json_response=True, response_stall_timeout_seconds=1.0)
    with serve_in_thread(settings) as base_url:
        session = Session(http, f"{base_url}/mcp", bearer())
        # 6 MB of answers (50 KB each), more than the kernel buffers (4 MB at most), to a receive
        # window of about a kilobyte that is never read: the rest piles up in the server's send buffer.
        pipelined = b"".join(raw_post(session, request(index, "tools/list")) for index in range(120))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        sock.connect(("127.0.0.1", int(base_url.rsplit(":", 1)[1])))
        with sock:
            sock.sendall(pipelined)
            wait_until(lambda: closed(sock), 60.0, "the stalled connection to be closed")


def raw_post(session: Session, body: dict[str, object]) -> bytes:
    encoded = json.dumps(body).encode()
    headers = "".join(f"{name}: {value}\r\n" for name, value in session.headers().items())
    head = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {len(encoded)}\r\n\r\n"
    return head.encode() + encoded


def closed(sock: socket.socket) -> bool:
    """The socket's TCP state, looked at without reading (reading would let the server go on)."""
    state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    return state in (TCP_CLOSE, TCP_CLOSE_WAIT)


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
def test_a_revoked_token_loses_its_open_streams(http: httpx.Client, tmp_path: Path, path: str) -> None:
    revoked = tmp_path / "revoked"
    revoked.write_text("")
    settings = token_settings(token_revocation_file=revoked, stream_recheck_seconds=0.2)
    minted = mint(SECRET.encode(), name="soon revoked", scopes=Scopes(), expires_at=None)
    auth = {"Authorization": f"Bearer {minted.token}"}
    with serve_in_thread(settings) as base_url:
        url = f"{base_url}/mcp"
        headers = Session(http, url, auth).headers() if path == "/mcp" else auth
        with http.stream("GET", f"{base_url}{path}", headers=headers) as stream:
            assert stream.status_code == 200
            revoked.write_text(f"{minted.jti}\n")
            # Ends (rather than the read timing out) once the recheck sees the revocation.
            for _ in stream.iter_raw():
                pass
        assert http.post(url, json=INITIALIZE, headers={**HEADERS, **auth}).status_code == 401
