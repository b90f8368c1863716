"""A destination for delivery tests: a real HTTP app (served on loopback by the tests) that checks
each delivery's signature, answers the faults it is told to inject first, and records what it
accepted by event id, and how many deliveries of one id were ever in flight at once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aai_mcp.delivery.signing import verify_signature

# What the receiver answers a delivery, by the number of earlier tries of that event id.
Fault = str  # "500", "429" (with Retry-After: 1), "hang" (no answer before the worker's timeout), "410"
FaultPlan = Callable[[str, int], Fault | None]


def no_faults(_event_id: str, _tries: int) -> Fault | None:
    return None


@dataclass
class Receiver:
    secret: str
    faults: FaultPlan = no_faults
    hang_seconds: float = 10.0
    accepted: Counter[str] = field(default_factory=Counter)
    tries: Counter[str] = field(default_factory=Counter)
    bad_signatures: int = 0
    most_in_flight: int = 0
    _in_flight: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hooks/{token}", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        if not verify_signature(self.secret, request.headers.get("aai-mcp-signature", ""), body):
            with self._lock:
                self.bad_signatures += 1
            return Response(status_code=400)
        event_id = str(orjson.loads(body)["id"])
        with self._lock:
            tried = self.tries[event_id]
            self.tries[event_id] += 1
            self._in_flight[event_id] += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight[event_id])
        try:
            return await self._answer(event_id, self.faults(event_id, tried))
        finally:
            with self._lock:
                self._in_flight[event_id] -= 1

    async def _answer(self, event_id: str, fault: Fault | None) -> Response:
        if fault == "hang":
            await anyio.sleep(self.hang_seconds)
            return Response(status_code=504)
        if fault == "429":
            return Response(status_code=429, headers={"Retry-After": "1"})
        if fault is not None:
            return Response(status_code=int(fault))
        with self._lock:
            self.accepted[event_id] += 1
        return Response(status_code=200)
