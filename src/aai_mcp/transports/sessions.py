"""Streamable HTTP sessions that belong to the principal that opened them, within per-principal caps.

The SDK (mcp 2.3.0, pinned) already refuses a session to any credential but its creator's, and does
so for legacy SSE too, but only by comparing `scope["user"]`; `SessionOwners` fills that in from
our principal. The manager subclass adds what the SDK lacks: caps per principal, and refusing a
request id that is still in flight on the session (the SDK would silently replace the first
request's response stream, so that request never got an answer).
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, AuthorizationContext
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import INVALID_REQUEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aai_mcp.transports.limits import ANONYMOUS, Ledger, holders_of, owner_of
from aai_mcp.transports.plain_answers import answered_plainly, answers_plainly, plain_answer, replaying

# The SDK's own loggers print session ids (32 hex digits, or a UUID on legacy SSE) at INFO.
SDK_SESSION_LOGGERS = (
    "mcp.server.streamable_http_manager",
    "mcp.server.streamable_http",
    "mcp.server.sse",
    "sse_starlette.sse",  # at DEBUG it logs each chunk, the legacy endpoint event among them
    "",  # the root logger: sse.py logs a disconnect through `logging.debug`
)
LANDING_SECONDS = 5.0
# Whom a session being opened is counted against, from the request to the SDK's `_admit_session`.
_opening: ContextVar[tuple[str, ...]] = ContextVar("opening", default=(ANONYMOUS,))
SESSION_ID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


class SessionOwners:
    """Presents the authenticated principal to the SDK as the user its session-owner check compares."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            token = AccessToken(token="", client_id=owner_of(scope), scopes=[])
            scope = {**scope, "user": AuthenticatedUser(token)}
        await self.app(scope, receive, send)


class OwnedSessionManager(StreamableHTTPSessionManager):
    """The SDK's session manager with per-principal caps on sessions and their GET streams, and one
    in-flight request per id."""

    def __init__(
        self,
        app: Any,
        ledger: Ledger,
        streams: Ledger,
        recheck: Callable[[ASGIApp], ASGIApp],
        at_once: Callable[[str], bool] = lambda tool: False,
        **options: Any,
    ) -> None:
        """`at_once`: whether a tool answers at once, so a stateless call to it may be answered with
        JSON (transports/plain_answers.py)."""
        # The SDK's own cap (a 503 for everybody once one caller filled it) is replaced by the ledger.
        super().__init__(app, max_sessions=None, **options)
        self.at_once = at_once
        self.ledger = ledger
        self.streams = streams
        self.recheck = recheck
        self._holders: dict[str, tuple[str, ...]] = {}
        self._in_flight: defaultdict[str, dict[str, _Flight]] = defaultdict(dict)

    @property
    def json_response(self) -> bool:
        """The server's setting, or JSON for the one stateless request `plain_answer` was set for."""
        return self._json_response or plain_answer.get()

    @json_response.setter
    def json_response(self, value: bool) -> None:
        self._json_response = value

    async def _handle_stateless_request(
        self, protocol_version_hint: str | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope["method"] == "GET":
            # Without a session nothing can ever be sent on a standalone stream, yet the SDK would hold
            # it (and a connection) open forever: the spec's answer for "no stream offered" instead.
            await _no_stream()(scope, receive, send)
            return
        if scope["method"] == "POST" and not self._json_response:
            # The SDK's body-limit middleware has read the whole body already: this takes no time.
            body, replay = await buffered_body(receive)
            if answers_plainly(scope, body, self.at_once):

                async def handle(replayed: Receive, sending: Send) -> None:
                    stateless = super(OwnedSessionManager, self)._handle_stateless_request
                    await stateless(protocol_version_hint, scope, replayed, sending)

                await answered_plainly(handle, body, receive, send)
                return
            receive = replay
        await super()._handle_stateless_request(protocol_version_hint, scope, receive, send)

    async def _handle_stateful_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        session_id = Request(scope).headers.get(MCP_SESSION_ID_HEADER)
        holders = holders_of(scope)
        if session_id is None:
            refusal = self.ledger.refusal(holders)
            if refusal is not None:
                await refusal.response()(scope, receive, send)
                return
            opening = _opening.set(holders)
            try:
                await super()._handle_stateful_request(scope, receive, send)
            finally:
                _opening.reset(opening)
            return
        if self._holders.get(session_id, ())[:1] == holders[:1]:
            if scope["method"] == "POST":
                await self._one_request_per_id(session_id, scope, receive, send)
                return
            if scope["method"] == "GET":
                await self._stream(scope, receive, send)
                return
        # Anything else (an unknown session, or one opened by another principal) gets the SDK's 404.
        await super()._handle_stateful_request(scope, receive, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A session's GET stream holds a connection as long as the client likes: it counts against
        the same caps as a legacy /sse stream, and ends once its credential is refused."""
        await self.streams.hold(self.recheck(super()._handle_stateful_request), scope, receive, send)

    def _admit_session(self, requestor: AuthorizationContext | None) -> StreamableHTTPServerTransport | None:
        # Runs under the SDK's creation lock, so concurrent openings cannot both take the last slot.
        holders = _opening.get()
        if self.ledger.acquire(holders) is not None:
            return None
        transport = super()._admit_session(requestor)
        if transport is None or transport.mcp_session_id is None:
            self.ledger.release(holders)
            return None
        self._holders[transport.mcp_session_id] = holders
        return transport

    async def _discard_session(self, session_id: str, transport: StreamableHTTPServerTransport) -> None:
        # Called once per ending (DELETE, idle expiry, crash, refused opening) and sometimes twice.
        holders = self._holders.pop(session_id, None)
        if holders is not None:
            self.ledger.release(holders)
            self._in_flight.pop(session_id, None)
        await super()._discard_session(session_id, transport)

    async def _one_request_per_id(self, session_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        body, replay = await buffered_body(receive)
        ids = request_ids(body)
        flights = self._in_flight[session_id]
        for request_id in ids & flights.keys():
            if not await flights[request_id].landed():
                await _id_in_use(body)(scope, receive, send)
                return
        flight = _Flight()
        flights.update(dict.fromkeys(ids, flight))

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                flight.answered = True
            await send(message)

        try:
            await super()._handle_stateful_request(scope, replay, send=watched)
        finally:
            for request_id in ids:
                if flights.get(request_id) is flight:
                    del flights[request_id]
            flight.done.set()


@dataclass
class _Flight:
    """A request on a session, from its arrival until the SDK has forgotten its id."""

    answered: bool = False
    done: anyio.Event = field(default_factory=anyio.Event)

    async def landed(self) -> bool:
        """True once this request is over. A client may reuse an id as soon as it has the answer, a
        moment before the SDK has released it, so an answered request is waited for, briefly."""
        if self.answered:
            with anyio.move_on_after(LANDING_SECONDS):
                await self.done.wait()
        return self.done.is_set()


async def buffered_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body (already size-capped by the SDK's limit middleware), and a receive
    that hands it on once more."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, replaying(body, receive)


def request_ids(body: bytes) -> set[str]:
    """The ids of the JSON-RPC requests in a body, as the SDK keys them (str(id): 1 and "1" clash)."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return set()
    messages = decoded if isinstance(decoded, list) else [decoded]
    return {
        str(message["id"])
        for message in messages
        if isinstance(message, dict) and "method" in message and message.get("id") is not None
    }


def _id_in_use(body: bytes) -> JSONResponse:
    decoded = json.loads(body)
    request_id = decoded.get("id") if isinstance(decoded, dict) else None
    error = {
        "code": INVALID_REQUEST,
        "message": "A request with this id is still in flight on this session; send each request a new id.",
    }
    return JSONResponse({"jsonrpc": "2.0", "id": request_id, "error": error}, status_code=409)


def _no_stream() -> Response:
    return Response("This server offers no GET stream without a session.", 405, {"Allow": "POST"})


class SessionIdRedaction(logging.Filter):
    """Removes session ids from log lines: whoever reads the log must not be able to join a session."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SESSION_ID.sub("[session]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = SESSION_ID.sub("[session]", record.exc_text)
        return True


def redact_session_ids(logger_names: Iterable[str] = SDK_SESSION_LOGGERS) -> None:
    """Install the redaction on the loggers that print session ids (once each; safe to call again)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, SessionIdRedaction) for existing in logger.filters):
            logger.addFilter(SessionIdRedaction())
