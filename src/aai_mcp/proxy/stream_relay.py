"""One proxied streaming session once both halves are open: frames relayed both ways unchanged, one
frame in flight per direction (each send awaited before the next read), and the session's end.

The end: the caller leaving closes upstream at once (an abandoned session keeps billing); upstream
closing closes the caller with upstream's code and reason; `end()` (the session cap) sends upstream
a `Terminate` so the session ends cleanly, relays its last Turn and its Termination, then closes the
caller with our own code.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Protocol

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from aai_mcp.proxy.stream_usage import termination_audio_seconds
from aai_mcp.upstream.audio_framing import AudioClock, CodecError

TERMINATE = json.dumps({"type": "Terminate"})
# How long upstream has to answer our Terminate with its Termination before it is closed anyway.
TERMINATE_GRACE_SECONDS = 10.0
# Upstream's connection ended without a close code the caller can be sent (1005 none, 1006 dropped,
# 1015 TLS failed): 1014 is "Bad Gateway" in the IANA registry of WebSocket close codes.
UPSTREAM_LOST = 1014
NO_STATUS = (1005, 1006, 1015)

ENDED = "ended"
CLIENT_LEFT = "client_left"


class UpstreamSocket(Protocol):
    """The upstream session as the relay uses it (a websockets ClientConnection, or a test's fake)."""

    @property
    def close_code(self) -> int | None: ...

    @property
    def close_reason(self) -> str | None: ...

    async def recv(self) -> str | bytes: ...

    async def send(self, message: str | bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclass
class Relay:
    client: WebSocket
    upstream: UpstreamSocket
    outcome: str = ENDED
    """ENDED (upstream closed, or sent its Termination), CLIENT_LEFT (before that), or the outcome
    `end()` was given."""
    audio_bytes: int = 0
    """Binary frames relayed upstream (audio)."""
    clock: AudioClock | None = None
    """Times a compressed encoding's frames (their size says nothing of their length)."""
    timed_audio_ms: float = 0.0
    reported_audio_seconds: float | None = None
    """From upstream's Termination message, when one came."""
    started: float = field(default_factory=time.monotonic)
    _closing: tuple[int, str] | None = None
    _reading: anyio.CancelScope = field(default_factory=anyio.CancelScope)

    @property
    def session_seconds(self) -> float:
        return time.monotonic() - self.started

    def end(self, outcome: str, code: int, reason: str) -> None:
        """End the session cleanly: stop reading the caller, Terminate upstream, close the caller with
        `code` once upstream's Termination is relayed."""
        if self._closing is None:
            self.outcome, self._closing = outcome, (code, reason)
            self._reading.cancel()

    async def run(self) -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._downstream, tasks.cancel_scope)
            with self._reading:
                await self._upstream_bound()
                self._caller_left()
                await self.upstream.close()
                tasks.cancel_scope.cancel()
                return
            await self._terminate()

    async def _upstream_bound(self) -> None:
        """Relay the caller's frames until it leaves; if upstream closed first, wait to be cancelled."""
        while True:
            message = await self.client.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            try:
                if data is not None:
                    self.audio_bytes += len(data)
                    self._time(data)
                    await self.upstream.send(data)
                else:
                    await self.upstream.send(message.get("text") or "")
            except ConnectionClosed:
                await anyio.sleep_forever()  # _downstream saw it too, and ends the session

    def _time(self, data: bytes) -> None:
        if self.clock is None:
            return
        try:
            self.timed_audio_ms += self.clock.frame_ms(data)
        except CodecError:
            self.clock = None  # not the declared encoding: upstream ends the session (3006)

    async def _terminate(self) -> None:
        try:
            await self.upstream.send(TERMINATE)
        except ConnectionClosed:
            return  # _downstream closes the caller
        with anyio.move_on_after(TERMINATE_GRACE_SECONDS):
            await anyio.sleep_forever()  # cancelled by _downstream once upstream has closed
        await self.upstream.close()

    async def _downstream(self, session: anyio.CancelScope) -> None:
        """Relay upstream's frames to the caller until upstream closes, then close the caller."""
        try:
            while True:
                message = await self.upstream.recv()
                if isinstance(message, str):
                    seconds = termination_audio_seconds(message)
                    if seconds is not None:
                        self.reported_audio_seconds = seconds
                    await self.client.send({"type": "websocket.send", "text": message})
                else:
                    await self.client.send({"type": "websocket.send", "bytes": message})
        except ConnectionClosed:
            await self._close_client()
        except WebSocketDisconnect:
            self._caller_left()
            await self.upstream.close()
        session.cancel()

    def _caller_left(self) -> None:
        # After upstream's Termination the session is over: a caller (the SDK) may close first.
        if self._closing is None and self.reported_audio_seconds is None:
            self.outcome = CLIENT_LEFT

    async def _close_client(self) -> None:
        code, reason = self._closing or self._upstream_close()
        try:
            await self.client.close(code, reason)
        except (WebSocketDisconnect, RuntimeError):
            self._caller_left()

    def _upstream_close(self) -> tuple[int, str]:
        code = self.upstream.close_code
        if code is None or code in NO_STATUS:
            return UPSTREAM_LOST, "AssemblyAI's streaming connection was lost"
        return code, self.upstream.close_reason or ""
