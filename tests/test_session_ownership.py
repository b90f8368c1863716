"""A session belongs to the principal that opened it: any other token gets the unknown-session 404
on every route into it (Streamable HTTP POST, GET, DELETE; legacy SSE messages), session ids never
reach the log, and reusing an in-flight request id is refused instead of stealing its answer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest

from aai_mcp.access import Scopes
from tests.support.raw_mcp import (
    HEADERS,
    INITIALIZE,
    Session,
    bearer,
    call,
    messages,
    request,
    token_settings,
)
from tests.support.servers import serve_in_thread

READ_ONLY = Scopes(read_only=True)
AUDIO_URL = "https://example.com/support-call.mp3"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    # Transcripts never finish, so a wait stays in flight as long as the test asks it to.
    with serve_in_thread(token_settings(simulator_delay_seconds=3600.0)) as url:
        yield url


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def unknown_session_answer(http: httpx.Client, url: str, method: str, auth: dict[str, str]) -> httpx.Response:
    headers = {**HEADERS, **auth, "Mcp-Session-Id": uuid4().hex, "MCP-Protocol-Version": "2025-06-18"}
    body = request(1, "tools/list") if method == "POST" else None
    return http.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_another_token_gets_the_unknown_session_404(base_url: str, http: httpx.Client, method: str) -> None:
    url = f"{base_url}/mcp"
    admin, reader = bearer(), bearer(READ_ONLY, name="reader")
    victim = Session(http, url, admin)

    body = request(1, "tools/list") if method == "POST" else None
    probe = http.request(method, url, json=body, headers=victim.headers(reader))
    unknown = unknown_session_answer(http, url, method, reader)

    assert probe.status_code == unknown.status_code == 404
    assert probe.content == unknown.content
    # The owner's session is untouched: still answers, and only the owner may end it.
    assert victim.result(request(2, "tools/list"))["result"]["tools"]
    assert victim.delete().status_code == 200
    assert victim.post(request(3, "tools/list")).status_code == 404


def test_another_token_cannot_open_the_sessions_stream(base_url: str, http: httpx.Client) -> None:
    victim = Session(http, f"{base_url}/mcp", bearer())
    with http.stream("GET", victim.url, headers=victim.headers(bearer(READ_ONLY))) as probe:
        assert probe.status_code == 404
    with victim.stream("GET") as own:
        assert own.status_code == 200
        assert own.headers["content-type"].startswith("text/event-stream")


def test_reusing_an_in_flight_id_is_refused_and_the_first_request_is_answered(
    base_url: str, http: httpx.Client
) -> None:
    session = Session(http, f"{base_url}/mcp", bearer())
    created = session.result(call(1, "create_transcript", audio_url=AUDIO_URL))
    transcript_id = _transcript_id(created)

    wait = call(7, "wait_for_transcript", transcript_id=transcript_id, timeout_seconds=5)
    with session.stream("POST", wait) as first:
        assert first.status_code == 200  # the SSE response has begun: request 7 is in flight
        second = session.post(call(7, "list_transcripts"))
        assert second.status_code == 409
        assert second.json()["id"] == 7 and "in flight" in second.json()["error"]["message"]
        first.read()
    (answer,) = [message for message in messages(first) if message.get("id") == 7]
    assert "result" in answer and not answer["result"].get("isError"), answer
    # Once answered, the id may be used again, and "7" is the same id as 7 to the SDK.
    assert "result" in session.result(call("7", "list_transcripts"))


def test_legacy_sse_messages_only_from_the_streams_owner(base_url: str, http: httpx.Client) -> None:
    admin, reader = bearer(), bearer(READ_ONLY, name="reader")
    with http.stream("GET", f"{base_url}/sse", headers=admin) as stream:
        endpoint, _lines = _endpoint_event(stream)
        posted = f"{base_url}{endpoint}"
        probe = http.post(posted, json=request(1, "tools/list"), headers={**HEADERS, **reader})
        unknown = http.post(
            f"{base_url}/messages/?session_id={uuid4().hex}",
            json=request(1, "tools/list"),
            headers={**HEADERS, **reader},
        )
        own = http.post(posted, json=INITIALIZE, headers={**HEADERS, **admin})
    assert probe.status_code == unknown.status_code == 404
    assert probe.content == unknown.content
    assert own.status_code == 202


def test_session_ids_never_reach_the_log(
    base_url: str, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"{base_url}/mcp"
    owner, other = bearer(), bearer(READ_ONLY, name="other")
    session = Session(http, url, owner)
    session.result(request(1, "tools/list"))
    assert session.post(request(2, "tools/list"), auth=other).status_code == 404
    assert session.delete().status_code == 200
    assert session.post(request(3, "tools/list")).status_code == 404  # now unknown: logged by the SDK
    with http.stream("GET", f"{base_url}/sse", headers=owner) as stream:
        endpoint, _lines = _endpoint_event(stream)
        sse_session = endpoint.split("session_id=")[1]
        refused = http.post(f"{base_url}{endpoint}", content=b"{", headers={**HEADERS, **other})
        assert refused.status_code == 404
        assert (
            http.post(f"{base_url}{endpoint}", content=b"{", headers={**HEADERS, **owner}).status_code == 400
        )

    # The test's own HTTP client logs the response headers it received; only the server's lines count.
    server_lines = [
        record.getMessage() + (record.exc_text or "")
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    ]
    assert sum("[session]" in line for line in server_lines) >= 4, "too few session lines to prove anything"
    for secret in (session.id, sse_session):
        assert not [line for line in server_lines if secret in line or secret[:8] in line]


INITIALIZE_SSE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "sse", "version": "1"},
    },
}


def _endpoint_event(stream: httpx.Response) -> tuple[str, Iterator[str]]:
    """The message URL from the stream's first event, and its lines (dropping them ends the stream)."""
    assert stream.status_code == 200
    lines = stream.iter_lines()
    for line in lines:
        if line.startswith("data:"):
            return line[5:].strip(), lines
    raise AssertionError("the SSE stream ended before its endpoint event")


def _transcript_id(answer: dict[str, object]) -> str:
    result = answer["result"]
    assert isinstance(result, dict), answer
    structured = result.get("structuredContent")
    assert isinstance(structured, dict), result
    return str(structured["id"])
