"""At shutdown a legacy /sse stream ends only once every request posted to its session is answered
(or cancelled, or refused): `Draining`, `SseAnswers` and `ExpectingAnswers` without a server."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from aai_mcp.transports.draining import Draining, ExpectingAnswers, SseAnswers

pytestmark = pytest.mark.anyio

SESSION = "0123456789abcdef0123456789abcdef"


def sse_chunk(event: str, data: str) -> Message:
    """One event as sse-starlette sends it: one body chunk."""
    body = f"event: {event}\r\ndata: {data}\r\n\r\n".encode()
    return {"type": "http.response.body", "body": body, "more_body": True}


def answering(status: int) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


async def post(draining: Draining, message: dict[str, Any], status: int = 202) -> None:
    scope = {"type": "http", "method": "POST", "query_string": f"session_id={SESSION}".encode()}
    body = json.dumps(message).encode()
    arrived = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return arrived.pop()

    async def send(message: Message) -> None:
        pass

    await ExpectingAnswers(answering(status), draining)(scope, receive, send)


def open_stream(draining: Draining) -> SseAnswers:
    answers = draining.sse_stream()
    answers.sent(sse_chunk("endpoint", f"/messages/?session_id={SESSION}"))
    return answers


async def settles(answers: SseAnswers) -> bool:
    """Whether the stream may end now (after every other task has had its turn)."""
    done = anyio.Event()

    async def wait() -> None:
        await answers.settled()
        done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()
    return done.is_set()


def call(request_id: int) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "x"}}


async def test_shutdown_drains_the_calls_then_ends_an_idle_stream() -> None:
    drained: list[bool] = []
    draining = Draining(lambda: drained.append(True))
    answers = open_stream(draining)
    assert not await settles(answers), "no shutdown yet"
    draining.begin()
    assert drained == [True]
    assert await settles(answers)


async def test_a_stream_waits_for_each_answer_to_go_out() -> None:
    draining = Draining(lambda: None)
    answers = open_stream(draining)
    await post(draining, call(7))
    await post(draining, call(8))
    draining.begin()
    answers.sent(sse_chunk("message", json.dumps({"jsonrpc": "2.0", "method": "notifications/progress"})))
    answers.sent(sse_chunk("message", json.dumps({"jsonrpc": "2.0", "id": 7, "result": {}})))
    assert not await settles(answers), "request 8 is still owed its answer"
    answers.sent(sse_chunk("message", json.dumps({"jsonrpc": "2.0", "id": 8, "error": {"code": 1}})))
    assert await settles(answers)


async def test_a_cancelled_or_refused_request_is_owed_nothing() -> None:
    draining = Draining(lambda: None)
    answers = open_stream(draining)
    await post(draining, call(1))
    await post(draining, call(2), status=404)
    draining.begin()
    assert not await settles(answers)
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    await post(draining, cancel)
    assert await settles(answers)


async def test_a_closed_stream_is_forgotten() -> None:
    draining = Draining(lambda: None)
    answers = open_stream(draining)
    answers.forget()
    await post(draining, call(1))  # for an unknown session: passed through, nothing expected
    assert not answers.pending
