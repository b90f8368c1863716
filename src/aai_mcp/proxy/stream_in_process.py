"""A WebSocket session with an ASGI app in this process (the built-in simulator), behaving as the
websockets client does for a session over the network: the same handshake refusals, messages, and
`ConnectionClosed` once the app closed, so the relay cannot tell them apart.

Each direction holds one message at most, like the network path's bounded buffers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
from starlette.types import ASGIApp, Message, Scope
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from aai_mcp.upstream.ratelimit import retry_after_seconds

NORMAL = 1000
ABNORMAL = 1006  # the app ended without a close message
# How long the app has to finish once the session is closed from this side.
CLOSE_GRACE_SECONDS = 10.0


class AppRefused(Exception):
    """The app refused the upgrade: its HTTP status (403 when it closed before accepting)."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(status)
        self.status, self.retry_after = status, retry_after


class CallerGone(OSError):
    """What the app's `send` raises once this side is gone (servers raise an OSError then too)."""


class InProcessSession:
    def __init__(self) -> None:
        self._to_app, self._app_inbox = anyio.create_memory_object_stream[Message](1)
        self._from_app, self._outbox = anyio.create_memory_object_stream[Message](1)
        self.app_done = anyio.Event()
        self.close_code: int | None = None
        self.close_reason: str | None = None

    async def run_app(self, app: ASGIApp, scope: Scope) -> None:
        try:
            await app(scope, self._app_receive, self._app_send)
        except CallerGone:
            pass  # the app was still sending when this side closed: nobody is left to tell
        finally:
            self._from_app.close()
            self._app_inbox.close()
            self.app_done.set()

    async def _app_receive(self) -> Message:
        try:
            return await self._app_inbox.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return {"type": "websocket.disconnect", "code": self.close_code or ABNORMAL}

    async def _app_send(self, message: Message) -> None:
        try:
            await self._from_app.send(message)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise CallerGone("the proxy side of the session is gone") from None

    async def handshake(self) -> None:
        """AppRefused unless the app accepts the session."""
        await self._to_app.send({"type": "websocket.connect"})
        try:
            first = await self._next()
        except ConnectionClosed:
            raise AppRefused(500, None) from None  # the app ended without answering
        if first["type"] == "websocket.accept":
            return
        if first["type"] == "websocket.http.response.start":
            headers = httpx.Headers([(bytes(k), bytes(v)) for k, v in first.get("headers", [])])
            raise AppRefused(int(first["status"]), retry_after_seconds(headers))
        raise AppRefused(403, None)  # closed before accepting: servers answer that with 403

    async def recv(self) -> str | bytes:
        message = await self._next()
        if message["type"] == "websocket.send":
            text = message.get("text")
            return text if text is not None else bytes(message.get("bytes") or b"")
        if message["type"] == "websocket.close":
            self._closed(int(message.get("code") or NORMAL), str(message.get("reason") or ""))
        raise self._connection_closed()

    async def send(self, message: str | bytes) -> None:
        if self.close_code is not None:
            raise self._connection_closed()
        key = "text" if isinstance(message, str) else "bytes"
        try:
            await self._to_app.send({"type": "websocket.receive", key: message})
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise self._connection_closed() from None

    async def close(self, code: int = NORMAL, reason: str = "") -> None:
        if self.close_code is None:
            self._closed(code, reason)
            # Never waited for: an app busy sending is not reading, and learns from its next send
            # failing instead (nobody reads what it sends from now on).
            with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._to_app.send_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._outbox.close()
        with anyio.move_on_after(CLOSE_GRACE_SECONDS):
            await self.app_done.wait()

    def dispose(self) -> None:
        for stream in (self._to_app, self._app_inbox, self._from_app, self._outbox):
            stream.close()

    async def _next(self) -> Message:
        try:
            return await self._outbox.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            if self.close_code is None:
                self._closed(ABNORMAL, "")
            raise self._connection_closed() from None

    def _closed(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    def _connection_closed(self) -> ConnectionClosed:
        if self.close_code in (None, ABNORMAL):
            return ConnectionClosedError(None, None)
        close = Close(self.close_code or NORMAL, self.close_reason or "")
        kind = ConnectionClosedOK if close.code == NORMAL else ConnectionClosedError
        return kind(close, close, True)


@asynccontextmanager
async def in_process_session(
    app: ASGIApp, url: httpx.URL, authorization: str
) -> AsyncIterator[InProcessSession]:
    """A session with `app` at `url`'s path and query (AppRefused when refused), closed on exit."""
    session = InProcessSession()
    refused: AppRefused | None = None
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(session.run_app, app, _scope(url, authorization))
            try:
                await session.handshake()
            except AppRefused as exc:
                refused = exc  # raised outside the task group, which would wrap it in a group
            else:
                try:
                    yield session
                finally:
                    await session.close()
            await session.close()
            tasks.cancel_scope.cancel()
    finally:
        session.dispose()
    if refused is not None:
        raise refused


def _scope(url: httpx.URL, authorization: str) -> Scope:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": (url.host, url.port or 80),
        "client": ("127.0.0.1", 0),
        "path": url.path,
        "raw_path": url.raw_path.split(b"?")[0],
        "query_string": url.query,
        "root_path": "",
        "headers": [(b"host", url.netloc), (b"authorization", authorization.encode("latin-1"))],
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }
