"""The v3 streaming WebSocket (`wss://streaming.assemblyai.com/v3/ws`), offline.

Upstream accepts the upgrade and then refuses with a close code: an `Error` frame whose
`error_code` is the close code comes first, and the close reason is the error text when it fits
in a close frame's 123 bytes ("See Error message for details" otherwise).
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from aai_mcp.upstream.audio_framing import AudioClock, CodecError

from .account_state import Simulator, StreamRecord
from .faults import FaultContext, canned_response
from .host_rules import Host
from .streaming_params import StreamParamError, StreamSettings, parse_connection, updated
from .streaming_turns import TurnTracker
from .temp_tokens import DEFAULT_SESSION_SECONDS

NORMAL_CLOSE = 1000
UNAUTHORIZED = 1008
SERVER_ERROR = 3005
INPUT_VALIDATION = 3006
INPUT_DURATION = 3007
SESSION_EXPIRED = 3008
TOO_MANY_SESSIONS = 3009
MAX_REASON_BYTES = 123
LONG_REASON = "See Error message for details"
FRAME_MS = (50, 1000)
HEAD_START_SECONDS = 1.0  # audio a client may send ahead of real time (a buffered microphone)
ECHO_CHARS = 200  # how much of a bad client message the Error frame quotes back


class StreamRefused(Exception):
    """Ends the session with an `Error` frame and this close code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def authenticate(simulator: Simulator, authorization: str | None, token: str | None) -> tuple[int, int]:
    """The session's maximum length in seconds and the index of the account it is billed to; a
    temporary token is spent here (single use). The official SDK sends a temporary token in
    `Authorization`, browsers as `?token=`."""
    account = simulator.accounts.get(authorization or "") if token is None else None
    if account is not None and not account.rejected:
        return DEFAULT_SESSION_SECONDS, account.index
    credential = token if token is not None else authorization
    if not credential:
        raise StreamRefused(UNAUTHORIZED, "Unauthorized Connection: Missing Authorization header")
    issued = simulator.tokens.get(credential)
    if issued is None or issued.audience != "streaming":
        raise StreamRefused(UNAUTHORIZED, "Unauthorized Connection: Invalid API key or token")
    if credential in simulator.spent_tokens:
        raise StreamRefused(UNAUTHORIZED, "Unauthorized Connection: Token has already been used")
    if not issued.usable_at(simulator.now()):
        raise StreamRefused(UNAUTHORIZED, "Unauthorized Connection: Signature has expired")
    simulator.spent_tokens.add(credential)
    return issued.max_session_duration_seconds, issued.account


@dataclass
class StreamSession:
    websocket: WebSocket
    simulator: Simulator
    settings: StreamSettings
    max_seconds: int
    account: int
    session_id: str = ""
    started: float = 0.0
    last_activity: float = 0.0
    audio_ms_total: float = 0.0
    tracker: TurnTracker = field(default_factory=TurnTracker)
    clock: AudioClock | None = None

    def __post_init__(self) -> None:
        self.session_id = self.simulator.new_id()
        self.started = self.last_activity = self.simulator.now()
        self.clock = AudioClock(self.settings.encoding, self.settings.sample_rate)

    @property
    def audio_ms(self) -> int:
        return int(self.audio_ms_total + 1e-6)  # float sums of whole-ms PCM frames may fall just short

    def begin(self) -> dict[str, Any]:
        expires = self.simulator.wall_now().timestamp() + self.max_seconds
        return {"type": "Begin", "id": self.session_id, "expires_at": int(expires)}

    def seconds_to_deadline(self) -> float:
        """Wall seconds to wait for a message before a deadline may have passed."""
        deadlines = [self.started + self.max_seconds]
        if self.settings.inactivity_timeout is not None:
            deadlines.append(self.last_activity + self.settings.inactivity_timeout)
        return max(0.0, min(deadlines) - self.simulator.now())

    def check_deadlines(self) -> bool:
        """Raises when the session ran too long; True when it sat idle past `inactivity_timeout`."""
        now = self.simulator.now()
        if now >= self.started + self.max_seconds:
            raise StreamRefused(SESSION_EXPIRED, "Session Expired: Maximum session duration exceeded")
        timeout = self.settings.inactivity_timeout
        return timeout is not None and now >= self.last_activity + timeout

    async def run(self) -> int:
        """Serve messages until the session ends; the close code it ended with."""
        await self.websocket.send_json(self.begin())
        while True:
            message = None
            with anyio.move_on_after(self.seconds_to_deadline()):
                message = await self.websocket.receive()
            if self.check_deadlines():
                return await self.terminate()  # idle: ended like a Terminate
            if message is None:
                continue
            if message["type"] == "websocket.disconnect":
                return int(message.get("code") or NORMAL_CLOSE)
            self.last_activity = self.simulator.now()
            if message.get("bytes") is not None:
                await self.audio(message["bytes"])
            elif await self.control(message.get("text") or ""):
                return await self.terminate()

    async def audio(self, chunk: bytes) -> None:
        assert self.clock is not None
        try:
            frame_ms = self.clock.frame_ms(chunk)
        except CodecError as exc:
            raise StreamRefused(INPUT_VALIDATION, f"Invalid audio: {exc}") from None
        # The 50-1000 ms rule is about PCM frames; an opus packet is 2.5-120 ms by its own framing.
        if self.clock.sized and not FRAME_MS[0] <= frame_ms <= FRAME_MS[1]:
            raise StreamRefused(
                INPUT_DURATION,
                f"Input duration violation: {math.floor(frame_ms)} ms. Expected between 50 and 1000 ms",
            )
        self.audio_ms_total += frame_ms
        self.check_pace()
        await self.send_all(self.tracker.advance(self.audio_ms, self.settings))

    def check_pace(self) -> None:
        factor = self.simulator.config.stream_realtime_factor
        elapsed = self.simulator.now() - self.started
        audio = self.audio_ms / 1000
        if factor is not None and audio > factor * elapsed + HEAD_START_SECONDS:
            raise StreamRefused(
                INPUT_DURATION,
                f"Audio Transmission Rate Exceeded: Received {audio:.1f} sec. audio in {elapsed:.1f} sec",
            )

    async def control(self, text: str) -> bool:
        """Handles one JSON message; True for `Terminate`."""
        message = parse_control(text)
        kind = message["type"]
        if kind == "Terminate":
            return True
        if kind == "ForceEndpoint":
            await self.send_all(self.tracker.force_endpoint(self.audio_ms, self.settings))
        elif kind == "UpdateConfiguration":
            try:
                self.settings = updated(self.settings, message)
            except StreamParamError as exc:
                raise StreamRefused(INPUT_VALIDATION, f"Invalid Message: {exc}") from None
        return False

    async def terminate(self) -> int:
        await self.send_all(self.tracker.force_endpoint(self.audio_ms, self.settings))
        await self.websocket.send_json(
            {
                "type": "Termination",
                "audio_duration_seconds": half_up(self.audio_ms / 1000),
                "session_duration_seconds": half_up(self.simulator.now() - self.started),
            }
        )
        await self.websocket.close(NORMAL_CLOSE)
        return NORMAL_CLOSE

    async def send_all(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            await self.websocket.send_json(message)


def half_up(seconds: float) -> int:
    # Not round(): banker's rounding would report 0.5 s of audio as 0 and 1.5 s as 2.
    return math.floor(seconds + 0.5)


CONTROL_TYPES = frozenset({"Terminate", "ForceEndpoint", "UpdateConfiguration", "KeepAlive"})


def parse_control(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except ValueError:
        raise StreamRefused(INPUT_VALIDATION, f"Invalid JSON: {text[:ECHO_CHARS]}") from None
    if not isinstance(message, dict):
        raise StreamRefused(INPUT_VALIDATION, f"Invalid Message: {text[:ECHO_CHARS]}")
    kind = message.get("type")
    if kind not in CONTROL_TYPES:
        raise StreamRefused(INPUT_VALIDATION, f"Invalid Message Type: {str(kind)[:ECHO_CHARS]}")
    return message


async def refuse(websocket: WebSocket, refusal: StreamRefused) -> None:
    await websocket.send_json({"type": "Error", "error_code": refusal.code, "error": refusal.message})
    fits = len(refusal.message.encode()) <= MAX_REASON_BYTES
    await websocket.close(refusal.code, refusal.message if fits else LONG_REASON)


def redacted_query(websocket: WebSocket) -> str:
    # The request log must not hold a temporary token: it is a credential until spent.
    pairs = [(k, "***" if k == "token" else v) for k, v in websocket.query_params.multi_items()]
    return "&".join(f"{k}={v}" for k, v in pairs)


# Queued faults for /v3/ws: an HTTP status refuses the upgrade (the SDK reports "handshake
# rejected (HTTP n)"); any other kind is a server error once the session is open.
DENIED_KINDS = frozenset({"429", "429-date", "500", "502", "503", "504"})


def denial_context(simulator: Simulator, retry_after_seconds: int) -> FaultContext:
    return FaultContext(
        host=Host.STREAMING,
        retry_after_seconds=retry_after_seconds,
        wall_now=simulator.wall_now(),
        model="",
        service="",
        rate_limit=simulator.config.gateway_rate_limit,
    )


async def deny_limited_key(websocket: WebSocket, simulator: Simulator) -> bool:
    """Whether the upgrade came with a rate-limited key and was refused with 429."""
    account = simulator.accounts.get(websocket.headers.get("authorization") or "")
    if account is None or "token" in websocket.query_params:
        return False
    wait = account.retry_after(simulator.now(), simulator.config.retry_after_seconds)
    if wait is None:
        return False
    account.refused[429] += 1
    await websocket.send_denial_response(canned_response("429", denial_context(simulator, wait)))
    return True


async def deliver_fault(websocket: WebSocket, simulator: Simulator) -> bool:
    """Whether a queued fault answered this upgrade instead of a session."""
    fault = simulator.faults.take("GET", "/v3/ws")
    if fault is None:
        return False
    if fault.kind in DENIED_KINDS:
        context = denial_context(simulator, simulator.config.retry_after_seconds)
        await websocket.send_denial_response(canned_response(fault.kind, context))
        return True
    await websocket.accept()
    await refuse(websocket, StreamRefused(SERVER_ERROR, "Session Cancelled: An error occurred"))
    return True


async def streaming_endpoint(websocket: WebSocket) -> None:
    simulator: Simulator = websocket.app.state.simulator
    account = simulator.accounts.get(websocket.headers.get("authorization") or "")
    simulator.record("GET", "/v3/ws", redacted_query(websocket), "/v3/ws", account)
    if await deliver_fault(websocket, simulator) or await deny_limited_key(websocket, simulator):
        return
    await websocket.accept()
    session: StreamSession | None = None
    try:
        session = open_session(websocket, simulator)
        simulator.open_streams += 1
        try:
            code = await session.run()
        finally:
            simulator.open_streams -= 1
    except StreamRefused as refusal:
        code = refusal.code
        with contextlib.suppress(WebSocketDisconnect):
            await refuse(websocket, refusal)
    except WebSocketDisconnect as gone:  # the client vanished while a message was on its way
        code = gone.code
    if session is not None:
        simulator.record_stream(
            StreamRecord(
                session.session_id,
                session.audio_ms,
                simulator.now() - session.started,
                code,
                session.account,
            )
        )


def open_session(websocket: WebSocket, simulator: Simulator) -> StreamSession:
    max_seconds, account = authenticate(
        simulator, websocket.headers.get("authorization"), websocket.query_params.get("token")
    )
    try:
        settings = parse_connection(websocket.query_params)
    except StreamParamError as exc:
        raise StreamRefused(INPUT_VALIDATION, f"Invalid query parameter: {exc}") from None
    limit = simulator.config.max_streams
    if limit is not None and simulator.open_streams >= limit:
        raise StreamRefused(TOO_MANY_SESSIONS, "Unauthorized Connection: Too many concurrent sessions")
    return StreamSession(websocket, simulator, settings, max_seconds, account)


STREAMING_ROUTES = [WebSocketRoute("/v3/ws", streaming_endpoint)]
