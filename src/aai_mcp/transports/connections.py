"""uvicorn's HTTP/1.1 protocol with deadlines for reading a request, and a cap on open connections.

uvicorn (h11) bounds header size and idle keep-alive time, but nothing bounds how long a client
may take to send its headers or body: a slowloris holds a socket (and a file descriptor) per
half-sent request for as long as it likes. Each connection here has one deadline while it waits
for a request line and headers, and another while it reads the body; a request fully read (the
app answering, an SSE stream) has none, as long as the client reads what it is sent: a client that
leaves the server's send buffer full past its own deadline (never reading a large answer, which would
otherwise hold the app's send forever) is dropped. Past `max_connections` the connection that has been
waiting longest for its request is closed to make room, so a flood of half-open sockets cannot
keep a real client out (no token is needed to open a socket, so this cannot wait for auth).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from aai_mcp.config.settings import Settings
from aai_mcp.transports.coalescing import CoalescingTransport
from aai_mcp.transports.websocket_protocol import WebSocketProtocol


@dataclass
class ConnectionLimits:
    header_seconds: float
    body_seconds: float
    stall_seconds: float
    max_connections: int
    reading: dict[GuardedH11Protocol, None] = field(default_factory=dict)
    """Connections still reading a request, oldest first: the ones to close when full."""


class GuardedH11Protocol(H11Protocol):
    """One connection; `limits` is shared by every connection of a server (see `protocol_for`)."""

    limits: ConnectionLimits

    def __init__(
        self, config: uvicorn.Config, server_state: ServerState, app_state: dict[str, Any], **kw: Any
    ) -> None:
        super().__init__(config, server_state, app_state, **kw)
        self._phase: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._stalled: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        if len(self.connections) > self.limits.max_connections:
            self._make_room()
        if not transport.is_closing():
            self._follow()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()
        self._watch_closing()

    def timeout_keep_alive_handler(self) -> None:
        super().timeout_keep_alive_handler()
        self._watch_closing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_phase(None)
        self._unstall()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stalled is None:
            self._stalled = self.loop.call_later(self.limits.stall_seconds, self._drop)

    def resume_writing(self) -> None:
        if not self.transport.is_closing():
            self._unstall()
        super().resume_writing()

    def _watch_closing(self) -> None:
        """A closed transport lingers until its buffer is sent: if the client does not read it, that
        is forever (with its file descriptor), so it is dropped after the stall deadline."""
        if self.transport.is_closing() and self.transport.get_write_buffer_size() and self._stalled is None:
            self._stalled = self.loop.call_later(self.limits.stall_seconds, self._drop)

    def _unstall(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None

    def _drop(self) -> None:
        """Abort, not close: a close would wait for the unread buffer to drain, which never happens.
        No linger either, so the kernel resets the connection instead of keeping the unsent bytes
        (megabytes) of a socket nobody owns. The app's pending send then sees a disconnect."""
        self._stalled = None
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def _make_room(self) -> None:
        oldest = next(iter(self.limits.reading), None)
        (oldest or self)._expire()

    def _follow(self) -> None:
        """Arm the deadline of the phase the connection is in now (keeping a running one)."""
        state = self.conn.their_state
        phase = "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
        if self.transport.is_closing():
            phase = None
        if phase != self._phase:
            self._set_phase(phase)

    def _set_phase(self, phase: str | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.limits.reading.pop(self, None)
        self._phase = phase
        if phase is not None:
            seconds = self.limits.header_seconds if phase == "headers" else self.limits.body_seconds
            self._deadline = self.loop.call_later(seconds, self._expire)
            self.limits.reading[self] = None

    def _expire(self) -> None:
        """Close a connection that is too slow (or the oldest waiting one, to make room); an app still
        reading the body sees a disconnect."""
        self._set_phase(None)
        if not self.transport.is_closing():
            self.transport.close()
        self._watch_closing()


def protocol_for(settings: Settings) -> type[GuardedH11Protocol]:
    """A protocol class whose connections share one set of limits (uvicorn builds one per socket)."""
    limits = ConnectionLimits(
        header_seconds=settings.request_header_timeout_seconds,
        body_seconds=settings.request_body_timeout_seconds,
        stall_seconds=settings.response_stall_timeout_seconds,
        max_connections=settings.max_connections,
    )

    class ServerH11Protocol(GuardedH11Protocol):
        pass

    ServerH11Protocol.limits = limits
    return ServerH11Protocol


def server_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration `serve` runs with (tests build their servers with it too)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "access_log": False,  # its lines would carry legacy SSE session ids in query strings
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        "http": protocol_for(settings),
        "ws": WebSocketProtocol,
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        **overrides,
    }
    return uvicorn.Config(app, **options)
