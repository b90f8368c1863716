"""A stateless call to a tool that answers at once, without a progress token, is answered with plain
JSON; everything else keeps the SDK's SSE stream (transports/plain_answers.py)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest

from aai_mcp.gateway import build_gateway, load_default_catalog
from aai_mcp.transports import plain_answers, sessions
from tests.support import make_settings
from tests.support.raw_mcp import HEADERS, INITIALIZE, VERSION, call, messages, request
from tests.support.servers import serve_gateway_in_thread, serve_in_thread

JSON = "application/json"
SSE = "text/event-stream"
AUDIO_URL = "https://example.com/support-call.mp3"


def settings(**overrides: Any) -> Any:
    return make_settings(api_key=None, **overrides)


@pytest.fixture(scope="module")
def stateless() -> Iterator[str]:
    with serve_in_thread(settings(stateless=True)) as url:
        yield f"{url}/mcp"


def post(url: str, body: dict[str, Any], accept: str = HEADERS["Accept"]) -> httpx.Response:
    headers = {**HEADERS, "Accept": accept, "MCP-Protocol-Version": VERSION}
    return httpx.post(url, json=body, headers=headers, timeout=60)


def created(url: str) -> str:
    answer = post(url, call(1, "create_transcript", audio_url=AUDIO_URL))
    (message,) = messages(answer)
    transcript_id: str = message["result"]["structuredContent"]["id"]
    return transcript_id


def kind(answer: httpx.Response) -> str:
    return answer.headers["content-type"].split(";")[0]


def test_a_read_that_answers_at_once_comes_as_json_and_a_job_start_as_a_stream(stateless: str) -> None:
    start = post(stateless, call(1, "create_transcript", audio_url=AUDIO_URL))
    assert start.status_code == 200 and kind(start) == SSE  # a write: the SDK's stream, as before
    transcript_id = created(stateless)
    read = post(stateless, call(2, "get_transcript", transcript_id=transcript_id))
    assert read.status_code == 200 and kind(read) == JSON
    (message,) = messages(read)
    assert message["id"] == 2 and message["result"]["structuredContent"]["id"] == transcript_id
    assert message["result"].get("isError") is not True


def test_a_call_that_asked_for_progress_keeps_the_stream(stateless: str) -> None:
    body = call(3, "get_transcript", transcript_id=created(stateless))
    body["params"]["_meta"] = {"progressToken": "p-1"}
    answer = post(stateless, body)
    assert answer.status_code == 200 and kind(answer) == SSE
    assert messages(answer)[-1]["id"] == 3


def test_other_methods_and_waiting_tools_keep_the_stream(stateless: str) -> None:
    assert kind(post(stateless, request(4, "tools/list"))) == SSE
    wait = post(
        stateless, call(5, "wait_for_transcript", transcript_id=created(stateless), timeout_seconds=1)
    )
    assert wait.status_code == 200 and kind(wait) == SSE


def test_which_answers_a_client_accepts_decides_as_before(stateless: str) -> None:
    body = call(6, "get_transcript", transcript_id=created(stateless))
    # Only JSON accepted: the SDK's stream mode refuses it, and still does (no quiet switch to JSON).
    assert post(stateless, body, accept=JSON).status_code == 406
    wildcard = post(stateless, body, accept="*/*")
    assert wildcard.status_code == 200 and kind(wildcard) == JSON


def test_a_task_keeps_the_stream_and_a_batch_gets_the_sdks_refusal(stateless: str) -> None:
    transcript_id = created(stateless)
    as_task = call(7, "get_transcript", transcript_id=transcript_id)
    as_task["params"]["task"] = {"ttl": 60000}
    assert kind(post(stateless, as_task)) != JSON
    batch = [call(8, "get_transcript", transcript_id=transcript_id)]
    headers = {**HEADERS, "MCP-Protocol-Version": VERSION}
    refused = httpx.post(stateless, json=batch, headers=headers, timeout=60)
    assert refused.status_code == 400 and "error" in refused.json()  # batches are not 2025-06-18


def test_a_client_that_leaves_cancels_its_plain_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's JSON answer never reads the connection again; the call is still cancelled when its
    client disconnects, as one on an SSE stream is."""
    plain: list[bool] = []
    answer_plainly = plain_answers.answered_plainly

    async def counted(*args: Any) -> None:
        plain.append(True)
        await answer_plainly(*args)

    monkeypatch.setattr(sessions, "answered_plainly", counted)
    gateway = build_gateway(settings(stateless=True))
    started, ended = threading.Event(), threading.Event()
    outcome: list[str] = []
    call_tool = gateway.runner.call

    async def watched(*args: Any, **kwargs: Any) -> Any:
        started.set()
        try:
            answer = await call_tool(*args, **kwargs)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        else:
            outcome.append("answered")
        finally:
            ended.set()
        return answer

    gateway.runner.call = watched  # type: ignore[method-assign]
    with serve_gateway_in_thread(gateway) as url:
        transcript_id = created(f"{url}/mcp")
        started.clear()
        ended.clear()
        outcome.clear()
        plain.clear()
        simulator = gateway.in_process_app.state.simulator  # type: ignore[union-attr]
        # Upstream answers this GET only after 30 s: the call cannot end by itself within the test.
        simulator.queue_fault(
            "slow-body", count=3, path_prefix=f"/v2/transcript/{transcript_id}", delay_seconds=30
        )
        body = json.dumps(call(2, "get_transcript", transcript_id=transcript_id)).encode()
        where = urlsplit(url)
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: {where.netloc}\r\nAccept: {HEADERS['Accept']}\r\n"
            f"Content-Type: application/json\r\nMCP-Protocol-Version: {VERSION}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        with socket.create_connection((where.hostname, where.port)) as client:
            client.sendall(head.encode() + body)
            assert started.wait(10), "the call never started"
        assert ended.wait(10), "the call kept running after its client left"
    assert outcome == ["cancelled"] and plain == [True]  # cancelled on the plain path, not an SSE one


def test_a_malformed_body_still_gets_the_sdks_own_answer(stateless: str) -> None:
    headers = {**HEADERS, "MCP-Protocol-Version": VERSION}
    broken = httpx.post(stateless, content=b'{"jsonrpc": "2.0", "id": 1,', headers=headers, timeout=60)
    assert broken.status_code == 400 and "Parse error" in broken.text


def test_a_stateful_server_keeps_its_streams() -> None:
    with serve_in_thread(settings()) as url, httpx.Client(timeout=60) as http:
        opened = http.post(f"{url}/mcp", json=INITIALIZE, headers=HEADERS)
        session = opened.headers["mcp-session-id"]
        headers = {**HEADERS, "Mcp-Session-Id": session, "MCP-Protocol-Version": VERSION}
        http.post(
            f"{url}/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
        )
        answer = http.post(f"{url}/mcp", json=call(1, "list_transcripts"), headers=headers)
    assert answer.status_code == 200 and kind(answer) == SSE


def test_only_reads_of_one_get_without_tasks_answer_at_once() -> None:
    tools = load_default_catalog().tools
    at_once = {name for name, spec in tools.items() if spec.answers_at_once}
    assert {"get_transcript", "list_transcripts", "get_sentences", "search_api_reference"} <= at_once
    for name in at_once:
        spec = tools[name]
        assert spec.annotations.read_only and spec.task_support is None
        assert [route.method for route in spec.upstream_calls] in ([], ["GET"])
    waits_writes_and_llm = {"wait_for_transcript", "transcribe", "upload_file", "create_transcript"}
    assert not (waits_writes_and_llm | {"ask_transcript", "wait_for_upload"}) & at_once


BODY = b"{}"


@pytest.mark.anyio
async def test_the_handlers_own_exception_comes_out_as_it_is() -> None:
    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Any) -> None:
        raise AssertionError("nothing is sent")

    async def handle(replayed: Any, sending: Any) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):  # not an ExceptionGroup around it
        await plain_answers.answered_plainly(handle, BODY, receive, send)


@pytest.mark.anyio
async def test_a_receive_after_the_answer_is_a_disconnect_not_a_hang() -> None:
    """As the server's own receive behaves once the response is complete."""
    complete = anyio.Event()

    async def receive() -> dict[str, Any]:
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            complete.set()

    async def handle(replayed: Any, sending: Any) -> None:
        assert (await replayed()) == {"type": "http.request", "body": BODY, "more_body": False}
        await sending({"type": "http.response.start", "status": 200, "headers": []})
        await sending({"type": "http.response.body", "body": b"{}"})
        with anyio.fail_after(5):
            assert (await replayed())["type"] == "http.disconnect"

    await plain_answers.answered_plainly(handle, BODY, receive, send)
