"""What SIGTERM does to the HTTP front door: calls answer first, then the streams that carry the answers end.

sse-starlette (which the SDK's SSE responses are built on) ends every SSE response of the process as
soon as it sees uvicorn's exit flag (sse_starlette/sse.py: `AppStatus.handle_exit` patched onto
uvicorn's `Server.handle_exit`, a watcher polling it every 0.5 s, `_listen_for_exit_signal_with_grace`
cancelling the response). That races the tool runner's drain, which is what produces the answer of a
cut-short wait: when the watcher won, a POST's SSE stream (or a legacy /sse session) ended without the
answer. So that switch is off, and shutdown here goes in order instead:

- a POST's SSE stream is never cut: it ends by itself once its answer is written, and the runner's
  drain makes every call answer well inside the grace period (uvicorn's own deadline is the backstop);
- a session's GET stream ends as soon as shutdown begins: answers never travel on it;
- a legacy /sse stream carries every answer of its session, so it ends once each request posted to
  that session has its answer on the wire (or was cancelled by the client).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import anyio
from sse_starlette.sse import AppStatus
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aai_mcp.transports.sessions import buffered_body, request_ids

if TYPE_CHECKING:
    from aai_mcp.gateway import Gateway

Ending = Callable[[], Awaitable[None]]
"""Returns once a stream may end."""
ACCEPTED = 202  # the SDK's answer to a message it has taken for its session


def keep_sse_streams_through_shutdown() -> None:
    """Stop sse-starlette from cancelling SSE responses when uvicorn starts shutting down.

    Process-wide (sse-starlette keeps the switch in a class attribute), which is what we want: every
    SSE response in this process belongs to the gateway, and `Draining` ends them in order instead.
    """
    AppStatus.enable_automatic_graceful_drain = False  # what its (untyped) disable_… method does


class Draining:
    """Shutdown of the HTTP front door: `begin` (uvicorn's shutdown hook) drains the tool runner, then
    lets the long-lived streams end once what they carry has been sent."""

    def __init__(self, drain_calls: Callable[[], None]) -> None:
        self._drain_calls = drain_calls
        self._began = anyio.Event()
        self._sessions: dict[str, SseAnswers] = {}

    def begin(self) -> None:
        self._drain_calls()
        self._began.set()

    async def began(self) -> None:
        """Returns once shutdown has begun (the end of a session's GET stream)."""
        await self._began.wait()

    def sse_stream(self) -> SseAnswers:
        """The answers one legacy /sse stream still owes; `forget` it when the stream ends."""
        return SseAnswers(self, self._sessions)

    def answers_for(self, scope: Scope) -> SseAnswers | None:
        """The /sse stream a POST to /messages/?session_id=… belongs to, if it is open."""
        session = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_id", [""])[0]
        return self._sessions.get(session.replace("-", "").lower())


def draining_for(gateway: Gateway) -> Draining:
    """Shutdown cuts the gateway's calls short within its grace period (see `ToolRunner.drain`)."""
    return Draining(lambda: gateway.runner.drain(gateway.settings.shutdown_grace_seconds))


@dataclass(eq=False)
class SseAnswers:
    """Requests posted to one legacy SSE session whose answers have not gone out on its stream yet."""

    draining: Draining
    sessions: dict[str, SseAnswers]
    session: str | None = None
    pending: set[str] = field(default_factory=set)
    changed: anyio.Event = field(default_factory=anyio.Event)

    def expect(self, ids: set[str]) -> None:
        self.pending |= ids

    def settle(self, ids: set[str]) -> None:
        if ids & self.pending:
            self.pending -= ids
            self.changed.set()
            self.changed = anyio.Event()

    def sent(self, message: Message) -> None:
        """Follow what goes out on the stream: the endpoint event names the session, a message event
        may be an answer."""
        if message["type"] != "http.response.body" or (self.session is not None and not self.pending):
            return  # nothing owed: no need to read (a transcript can be large)
        event, data = _sse_event(message.get("body", b""))
        if event == "endpoint" and self.session is None:
            self.session = parse_qs(urlsplit(data).query).get("session_id", [""])[0].lower()
            self.sessions[self.session] = self
        elif event == "message":
            self.settle(_answered_id(data))

    async def settled(self) -> None:
        """Returns once shutdown has begun and nothing posted to this session awaits its answer."""
        await self.draining.began()
        while self.pending:
            await self.changed.wait()

    def forget(self) -> None:
        if self.session is not None and self.sessions.get(self.session) is self:
            del self.sessions[self.session]


class ExpectingAnswers:
    """POST /messages/: notes which requests a legacy SSE session now owes an answer to, so its stream
    does not end at shutdown before they are answered. A cancelled request is owed nothing."""

    def __init__(self, app: ASGIApp, draining: Draining) -> None:
        self.app = app
        self.draining = draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answers = self.draining.answers_for(scope) if scope["type"] == "http" else None
        if answers is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, replay = await buffered_body(receive)
        ids = request_ids(body)
        answers.expect(ids)
        answers.settle(_cancelled_ids(body))
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, replay, watched)
        finally:
            if status != ACCEPTED:  # refused: the session will never answer it
                answers.settle(ids)


def _sse_event(chunk: bytes) -> tuple[str, str]:
    """The event name and data of one SSE event (sse-starlette sends each event as one chunk)."""
    event, data = "message", ""
    for line in chunk.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        if name == "event":
            event = value.strip()
        elif name == "data":
            data = value.strip()
    return event, data


def _answered_id(data: str) -> set[str]:
    message = _json(data)
    if isinstance(message, dict) and "method" not in message and message.get("id") is not None:
        return {str(message["id"])}
    return set()


def _cancelled_ids(body: bytes) -> set[str]:
    message = _json(body)
    if not isinstance(message, dict) or message.get("method") != "notifications/cancelled":
        return set()
    params = message.get("params")
    request_id = params.get("requestId") if isinstance(params, dict) else None
    return set() if request_id is None else {str(request_id)}


def _json(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
