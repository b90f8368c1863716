"""The simulator's own endpoints: health and the `/_sim/` test controls (no auth)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .faults import FAULT_KINDS, fault_summary
from .routes_api import simulator_of


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


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
    Route("/_sim/faults", queue_fault, methods=["POST"]),
    Route("/_sim/faults", list_faults, methods=["GET"]),
    Route("/_sim/stats", stats, methods=["GET"]),
    Route("/_sim/reset", reset, methods=["POST"]),
]
