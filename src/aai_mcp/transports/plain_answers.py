"""Plain JSON answers for stateless tool calls that have nothing to stream.

Streamable HTTP lets a server answer each request POST with either one JSON body or an SSE stream,
and clients must take both. The SDK picks one for the whole server (`json_response`); in its default,
SSE, every call pays for an event stream (a response task group, a ping task, a disconnect watcher and
three writes) even when the only event is the answer. A stateless call to a tool that answers at once
(`ToolSpec.answers_at_once`: read-only, never a task, at most one upstream GET) and that asked for no
progress has nothing else to send, so it is answered with JSON: about 1-2 ms less server CPU per
sequential get_transcript here (bench/PROFILE.md, round 3). Anything else keeps the stream: calls that
report progress, wait on a job, upload or ask an LLM, and any other method.

What the stream did besides carrying the answer is kept: a client that leaves cancels its call (the
SDK's JSON answer never reads the connection again, so `answered_plainly` watches it). What is not
kept: SSE's ping every 15 s, which such a call needs only when upstream is slow and retried for longer
than a proxy's idle timeout (a GET's retries are bounded by the host's read timeout).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import anyio
import orjson
from mcp.server.streamable_http import check_accept_headers
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

# Set for the one request being handed to the SDK, which reads the manager's `json_response` when
# it builds that request's transport (streamable_http_manager.py, stateless mode).
plain_answer: ContextVar[bool] = ContextVar("plain_answer", default=False)
# A tools/call of a tool that answers at once is a name and a few ids: a larger body is not one, and
# is not parsed twice to find out.
MAX_PLAIN_BODY_BYTES = 64 * 1024


def answers_plainly(scope: Scope, body: bytes, at_once: Callable[[str], bool]) -> bool:
    """Whether this POST (its whole `body`) may be answered with JSON: one JSON-RPC tools/call of a
    tool that answers at once, without a progress token or a task, from a client that accepts both
    answers (one that accepts only one still gets the SDK's refusal, as before)."""
    if not body or len(body) > MAX_PLAIN_BODY_BYTES:
        return False
    has_json, has_sse = check_accept_headers(Request(scope))
    if not (has_json and has_sse):
        return False
    try:
        request: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False  # the SDK answers it with its parse error
    if not isinstance(request, dict) or request.get("method") != "tools/call" or "id" not in request:
        return False
    params = request.get("params")
    if not isinstance(params, dict) or "task" in params:
        return False
    meta = params.get("_meta")
    if isinstance(meta, dict) and meta.get("progressToken") is not None:
        return False
    name = params.get("name")
    return isinstance(name, str) and at_once(name)


def replaying(body: bytes, then: Receive) -> Receive:
    """A receive that hands out `body`, already read whole, once more, and then whatever `then` does."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await then()

    return replay


Handler = Callable[[Receive, Send], Awaitable[None]]


async def answered_plainly(handle: Handler, body: bytes, receive: Receive, send: Send) -> None:
    """Run `handle` (the SDK's stateless handler, given the request's receive and send) with JSON
    chosen, and cancel it if the client disconnects before its answer is sent, as the SDK does for a
    call whose SSE stream was dropped. (Once the answer is sent, the server's receive reports a
    disconnect too: that one must not cancel the SDK's own clean-up.) The handler's own exception comes
    out as it is, not inside the task group's ExceptionGroup."""
    left = anyio.Event()
    answered = False
    failed: Exception | None = None

    async def after_body() -> Message:
        await left.wait()  # the body came in `first`; nothing else arrives but the disconnect
        return {"type": "http.disconnect"}

    async def sending(message: Message) -> None:
        nonlocal answered
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            answered = True  # before the send: nothing after its start is worth cancelling
        await send(message)

    chosen = plain_answer.set(True)
    try:
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                left.set()
                if not answered:
                    group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                await handle(replaying(body, after_body), sending)
            except Exception as exc:
                failed = exc
            group.cancel_scope.cancel()
    finally:
        plain_answer.reset(chosen)
    if failed is not None:
        raise failed
