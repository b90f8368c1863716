"""Injected failures: which ones exist, which request gets one, and how each is delivered."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime

import anyio
import httpx
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .host_rules import TOO_MANY_REQUESTS, Host, error_response
from .llm_windows import rate_limit_headers

FAULT_KINDS = (
    "429",
    "429-date",
    "500",
    "502",
    "503",
    "504",
    "malformed-json",
    "wrong-content-type",
    "slow-body",
    "reset",
)
RANDOM_5XX = ("500", "502", "503", "504")
SLOW_BODY_PIECES = 10
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
    "<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


class SimulatedConnectionReset(httpx.RemoteProtocolError):
    """Raised mid-body by the "reset" fault.

    Over a socket uvicorn drops the connection, so the client sees httpx's own
    RemoteProtocolError; in-process, httpx.ASGITransport re-raises this subclass, so
    callers catch the same type either way.
    """


@dataclass
class QueuedFault:
    kind: str
    remaining: int = 1
    path_prefix: str | None = None
    method: str | None = None
    delay_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if self.remaining < 1:
            raise ValueError("count must be at least 1")

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path_prefix or path.startswith(self.path_prefix)


class FaultQueue:
    """Faults for the next matching requests, first queued first served."""

    def __init__(self) -> None:
        self._items: list[QueuedFault] = []

    def add(self, fault: QueuedFault) -> None:
        self._items.append(fault)

    def take(self, method: str, path: str) -> QueuedFault | None:
        for fault in self._items:
            if fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._items.remove(fault)
                return fault
        return None

    def pending(self) -> list[QueuedFault]:
        return list(self._items)

    def clear(self) -> None:
        self._items.clear()


def random_fault(rng: random.Random, rate_429: float, rate_5xx: float) -> str | None:
    if rate_429 == 0 and rate_5xx == 0:
        return None
    roll = rng.random()
    if roll < rate_429:
        return "429"
    if roll < rate_429 + rate_5xx:
        return rng.choice(RANDOM_5XX)
    return None


@dataclass(frozen=True)
class FaultContext:
    """What a fault response needs to look like the host it pretends to come from."""

    host: Host
    retry_after_seconds: int
    wall_now: datetime
    model: str
    service: str
    rate_limit: int


def too_many_requests(kind: str, ctx: FaultContext) -> Response:
    headers: dict[str, str] = {}
    if ctx.host is Host.LLM_GATEWAY:
        headers.update(rate_limit_headers(ctx.rate_limit, 0, ctx.retry_after_seconds, ctx.model, ctx.service))
    elif kind == "429":
        headers["Retry-After"] = str(ctx.retry_after_seconds)
    if kind == "429-date":
        retry_at = ctx.wall_now + timedelta(seconds=ctx.retry_after_seconds)
        headers["Retry-After"] = format_datetime(retry_at, usegmt=True)
    return error_response(ctx.host, 429, TOO_MANY_REQUESTS, headers)


def canned_response(kind: str, ctx: FaultContext) -> Response:
    """The response for every fault that replaces the handler outright."""
    if kind in ("429", "429-date"):
        return too_many_requests(kind, ctx)
    if kind == "500":
        return error_response(ctx.host, 500, "Internal Server Error")
    if kind == "502":
        return Response(BAD_GATEWAY_HTML, status_code=502, media_type="text/html")
    if kind in ("503", "504"):
        return Response(b"", status_code=int(kind))
    if kind == "malformed-json":
        return Response(
            b'{"id": "5551722-f677-48a6-9287-39c0aafd9ac1", "status": "compl', media_type="application/json"
        )
    if kind == "wrong-content-type":
        page = "<html><body><h1>Service temporarily unavailable</h1></body></html>"
        return Response(page, status_code=200, media_type="text/html")
    raise ValueError(f"fault {kind!r} wraps the handler; it has no canned response")


async def run_with_slow_body(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, seconds: float
) -> None:
    """Headers go out at once; the body trickles out in pieces over `seconds`."""
    body = await run_capturing_body(app, scope, receive, send)
    step = max(1, -(-len(body) // SLOW_BODY_PIECES))
    pieces = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
    for piece in pieces:
        await anyio.sleep(seconds / len(pieces))
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def run_with_reset(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Send the headers and half the body, then drop the connection."""
    body = await run_capturing_body(app, scope, receive, send)
    if body:
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    raise SimulatedConnectionReset("peer closed connection without sending complete message body")


async def run_capturing_body(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> bytes:
    """Run the handler, forwarding its response start and keeping its body back."""
    parts: list[bytes] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            await send(message)
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, capture)
    return b"".join(parts)


def fault_summary(fault: QueuedFault) -> dict[str, object]:
    return {
        "fault": fault.kind,
        "remaining": fault.remaining,
        "path_prefix": fault.path_prefix,
        "method": fault.method,
        "delay_seconds": fault.delay_seconds,
    }
