"""The simulator's own endpoints: health (open) and the `/_sim/` test controls, which need the
simulator's key and a loopback Host: they reset state and inject faults, so a web page the browser
was tricked into sending there (DNS rebinding) or another machine must not reach them."""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aai_mcp.transports.host_check import parse_host

from .faults import FAULT_KINDS, fault_summary
from .routes_api import simulator_of

Endpoint = Callable[[Request], Awaitable[Response]]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def admin_refusal(request: Request) -> Response | None:
    """421 unless the one Host header names loopback; 401 unless the one Authorization is the key."""
    hosts = request.headers.getlist("host")
    authority = parse_host(hosts[0]) if len(hosts) == 1 else None
    if authority is None or not authority.is_loopback:
        return JSONResponse({"error": "the /_sim/ routes answer only on a loopback Host"}, status_code=421)
    given = request.headers.getlist("authorization")
    if len(given) != 1 or not _is_key(given[0], simulator_of(request).config.api_key):
        message = "the /_sim/ routes need the simulator key in Authorization"
        return JSONResponse({"error": message}, status_code=401)
    return None


def _is_key(header: str, key: str) -> bool:
    given = header.encode("latin-1")  # as Starlette decoded it; bytes: compare_digest refuses non-ASCII str
    return any(hmac.compare_digest(given, form.encode()) for form in (key, f"Bearer {key}"))


def admin(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        return admin_refusal(request) or await endpoint(request)

    return guarded


def fault_args(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("fault") not in FAULT_KINDS:
        raise ValueError(f"fault must be one of: {', '.join(FAULT_KINDS)}")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be an integer >= 1")
    args: dict[str, Any] = {"fault": body["fault"], "count": count}
    for name in ("path_prefix", "method"):
        if body.get(name) is not None:
            if not isinstance(body[name], str):
                raise ValueError(f"{name} must be a string")
            args[name] = body[name]
    delay = body.get("delay_seconds")
    if delay is not None:
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise ValueError("delay_seconds must be a number >= 0")
        args["delay_seconds"] = float(delay)
    return args


async def queue_fault(request: Request) -> Response:
    try:
        args = fault_args(json.loads(await request.body()))
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    queued = simulator_of(request).queue_fault(**args)
    return JSONResponse({"queued": fault_summary(queued)})


async def list_faults(request: Request) -> Response:
    return JSONResponse({"pending": [fault_summary(f) for f in simulator_of(request).faults.pending()]})


async def stats(request: Request) -> Response:
    return JSONResponse(simulator_of(request).stats())


async def reset(request: Request) -> Response:
    simulator_of(request).reset()
    return JSONResponse({"reset": True})


ADMIN_ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/_sim/faults", admin(queue_fault), methods=["POST"]),
    Route("/_sim/faults", admin(list_faults), methods=["GET"]),
    Route("/_sim/stats", admin(stats), methods=["GET"]),
    Route("/_sim/reset", admin(reset), methods=["POST"]),
]
