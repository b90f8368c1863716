"""The proxy's streaming door, /v1/assemblyai/v3/ws: the same chain as the REST door (authenticate
-> authorize -> forward), then the session relayed until one side ends it.

Credentials: the team token in `Authorization` (raw, as the SDKs send a key, or `Bearer`) or, for
browsers (which cannot set headers on a WebSocket), a `Sec-WebSocket-Protocol` value
`aai-mcp-token.<token>`, echoed when accepted. Refusals come before the upgrade is accepted, as HTTP
answers in the proxy's JSON shape; a server without the denial extension accepts and closes with
4000 + the status instead.

The session's query goes upstream unchanged, but is checked first by upstream's own rules
(upstream/streaming_query.py): a bad value is refused as AssemblyAI refuses it (an `Error` frame,
then close 3006), without opening, and paying for, an upstream session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import parse_qs, parse_qsl

import anyio
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from aai_mcp.access.principal import Authenticator, Principal
from aai_mcp.gateway import Gateway
from aai_mcp.proxy.admission import authenticate, authorize
from aai_mcp.proxy.metering import admit_stream
from aai_mcp.proxy.refusals import Refused
from aai_mcp.proxy.stream_cap import session_cap_seconds
from aai_mcp.proxy.stream_relay import Relay
from aai_mcp.proxy.stream_upstream import STREAMING, upstream_session
from aai_mcp.proxy.stream_usage import compressed_clock, estimated_audio_seconds
from aai_mcp.upstream.streaming_query import StreamParamError, parsed_query

STREAM_PATH = "/v3/ws"
SUBPROTOCOL_PREFIX = "aai-mcp-token."
CAPPED = "capped"
CREDENTIAL_REFUSED = "credential_refused"
CAP_CLOSE = 4008
REFUSED_CLOSE_BASE = 4000
INPUT_VALIDATION_CLOSE = 3006
MAX_CLOSE_REASON_BYTES = 123
# Told the audio seconds (upstream's Termination, else timed from the audio relayed; None when
# neither is known) and the seconds the session was open.
SessionEnded = Callable[[str, float | None, float], None]
log = logging.getLogger("aai_mcp.proxy")


class StreamProxy:
    """AssemblyAI's v3 streaming WebSocket for holders of an aai-mcp token with the proxy scope."""

    def __init__(
        self, gateway: Gateway, authenticator: Authenticator, on_session_end: SessionEnded | None = None
    ) -> None:
        self.gateway = gateway
        self.authenticator = authenticator
        self.on_session_end = on_session_end
        self.open = 0
        gateway.metrics.gauge(
            "aai_mcp_proxy_streams_open", "Streaming sessions open through the team proxy.", lambda: self.open
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        try:
            principal, subprotocol = self._admit(scope)
            query = scope.get("query_string", b"")
            if (problem := query_problem(query)) is not None:
                self.gateway.metrics.stream_session("refused")
                await refuse_parameter(websocket, subprotocol, problem)
                return
            await admit_stream(self.gateway, principal)
            async with upstream_session(self.gateway, principal, query) as upstream:
                await websocket.accept(subprotocol)
                relay = Relay(websocket, upstream, clock=compressed_clock(query))
                await self._serve(relay, principal, scope)
        except Refused as refused:
            self.gateway.metrics.stream_session("refused")
            await deny(websocket, refused)
        except WebSocketDisconnect:
            # Gone while upstream was being opened: that session is closed on the way out.
            self.gateway.metrics.stream_session("client_left")

    def _admit(self, scope: Scope) -> tuple[Principal, str | None]:
        """The caller, and the subprotocol to echo (the one that carried its token)."""
        refuse_temporary_token(scope.get("query_string", b""))
        subprotocol = token_subprotocol(scope.get("subprotocols", []))
        token = subprotocol[len(SUBPROTOCOL_PREFIX) :] if subprotocol else None
        principal = authenticate(self.authenticator, scope["headers"], token)
        authorize(principal, None)
        authorize(principal, STREAMING.effect)
        return principal, subprotocol

    async def _serve(self, relay: Relay, principal: Principal, scope: Scope) -> None:
        self.open += 1
        try:
            async with anyio.create_task_group() as tasks:
                cap = session_cap_seconds(self.gateway, principal.account)
                if cap is not None:
                    tasks.start_soon(_cap, relay, cap)
                tasks.start_soon(self._recheck, relay, scope)
                await relay.run()
                tasks.cancel_scope.cancel()
        finally:
            self.open -= 1
            audio = self._ended(relay, principal, scope.get("query_string", b""))
            if audio is not None and not principal.bills_own_key:
                with anyio.CancelScope(shield=True):
                    await self.gateway.usage.record_stream(principal.account, audio)

    async def _recheck(self, relay: Relay, scope: Scope) -> None:
        """A session lasts hours: its credential is checked again as SSE streams' are, and a revoked
        or expired one ends it like the cap does, with 4000 + the status it would get now."""
        while True:
            await anyio.sleep(self.gateway.settings.stream_recheck_seconds)
            try:
                self._admit(scope)
            except Refused as refused:
                relay.end(CREDENTIAL_REFUSED, REFUSED_CLOSE_BASE + refused.status, refused.code)
                return

    def _ended(self, relay: Relay, principal: Principal, query: bytes) -> float | None:
        audio = relay.reported_audio_seconds
        # What was timed counts even when a later frame broke the declared framing (clock dropped):
        # one junk frame must not un-meter the audio before it.
        if audio is None and (relay.clock is not None or relay.timed_audio_ms > 0):
            audio = relay.timed_audio_ms / 1000
        if audio is None:
            audio = estimated_audio_seconds(query, relay.audio_bytes)
        seconds = relay.session_seconds
        self.gateway.metrics.stream_session(relay.outcome)
        # The account and figures only: the query is the caller's, its token a credential.
        log.info(
            "proxy: streaming session of %s %s after %.1f s (audio %s s)",
            principal.account,
            relay.outcome,
            seconds,
            "unknown" if audio is None else f"{audio:.1f}",
        )
        if self.on_session_end is not None:
            self.on_session_end(principal.account, audio, seconds)
        return audio


async def _cap(relay: Relay, seconds: float) -> None:
    await anyio.sleep(seconds)
    relay.end(CAPPED, CAP_CLOSE, f"aai-mcp session cap reached ({seconds:g} s)")


def token_subprotocol(offered: list[str]) -> str | None:
    """The offered subprotocol that carries a token, if any; two different ones are refused."""
    carrying = {value for value in offered if value.startswith(SUBPROTOCOL_PREFIX)}
    if len(carrying) > 1:
        raise Refused(400, "conflicting_credentials", "Offer one aai-mcp-token subprotocol, not two.")
    return carrying.pop() if carrying else None


def refuse_temporary_token(query: bytes) -> None:
    """`?token=` is AssemblyAI's own temporary streaming token, never a credential of this proxy."""
    if "token" in parse_qs(query.decode("latin-1"), keep_blank_values=True):
        raise Refused(
            401,
            "temporary_token_not_accepted",
            "?token= holds an AssemblyAI temporary token, which this proxy does not take: send the "
            "team token in Authorization or as the subprotocol aai-mcp-token.<token>.",
        )


def query_problem(query: bytes) -> str | None:
    """What upstream would refuse in the session's query (every value of a repeated name), if anything."""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    try:
        for name, value in pairs:
            parsed_query({name: value})
    except StreamParamError as exc:
        return f"Invalid query parameter: {exc}"
    return None


async def refuse_parameter(websocket: WebSocket, subprotocol: str | None, problem: str) -> None:
    """As AssemblyAI refuses a bad parameter: accepted, an `Error` frame, close 3006 (the text as the
    reason when it fits a close frame)."""
    await websocket.accept(subprotocol)
    await websocket.send_json({"type": "Error", "error_code": INPUT_VALIDATION_CLOSE, "error": problem})
    fits = len(problem.encode()) <= MAX_CLOSE_REASON_BYTES
    await websocket.close(INPUT_VALIDATION_CLOSE, problem if fits else "See Error message for details")


async def deny(websocket: WebSocket, refused: Refused) -> None:
    """Refuse the upgrade with an HTTP answer, or (no denial extension) accept and close 4000+status."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(refused.response())
        return
    await websocket.accept()
    await websocket.close(REFUSED_CLOSE_BASE + refused.status, refused.code)
