"""The simulator's own endpoints: health (open) and the `/_sim/` test controls, which need one of
the simulator's keys, a loopback Host and a loopback peer: they reset state and inject faults, so a web
page the browser was tricked into sending there (DNS rebinding: a foreign Host) or another machine
(which can send any Host it likes, but not connect from loopback) must not reach them."""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from aai_mcp.transports.host_check import parse_host

from .admin_accounts import ACCOUNT_ROUTES
from .faults import FAULT_KINDS, fault_summary
from .routes_api import simulator_of

ADMIN_PREFIX = "/_sim"


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


class AdminGuard:
    """`admin_refusal` for every path under /_sim, in front of routing: before the trailing-slash
    redirect (which would echo the Host in a Location) and for methods no route takes."""

    def __init__(self, app: ASGIApp, keys: tuple[str, ...]) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = None
        if scope["type"] == "http" and str(scope["path"]).startswith(ADMIN_PREFIX):
            refusal = admin_refusal(Headers(scope=scope), scope.get("client"), self.keys)
        await (refusal or self.app)(scope, receive, send)


def admin_refusal(headers: Headers, peer: Any, keys: tuple[str, ...]) -> Response | None:
    """421 unless the one Host names loopback; 403 unless the peer is loopback; 401 unless the one
    Authorization is one of the keys."""
    hosts = headers.getlist("host")
    authority = parse_host(hosts[0]) if len(hosts) == 1 else None
    if authority is None or not authority.is_loopback:
        return JSONResponse({"error": "the /_sim/ routes answer only on a loopback Host"}, status_code=421)
    if not _is_loopback_peer(peer):
        return JSONResponse({"error": "the /_sim/ routes answer only to this machine"}, status_code=403)
    given = headers.getlist("authorization")
    # A list, not a generator: every key is compared, so the time taken does not tell which matched.
    if len(given) != 1 or not any([_is_key(given[0], key) for key in keys]):
        message = "the /_sim/ routes need the simulator key in Authorization"
        return JSONResponse({"error": message}, status_code=401)
    return None


def _is_loopback_peer(peer: Any) -> bool:
    """Whether the connection comes from this machine; None (no address known) does not."""
    try:
        address = ipaddress.ip_address(peer[0])
    except (TypeError, IndexError, ValueError):
        return False
    # A dual-stack (`--host ::`) socket sees 127.0.0.1 as ::ffff:127.0.0.1, not loopback to Python 3.11.
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _is_key(header: str, key: str) -> bool:
    given = header.encode("latin-1")  # as Starlette decoded it; bytes: compare_digest refuses non-ASCII str
    return any(hmac.compare_digest(given, form.encode()) for form in (key, f"Bearer {key}"))


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


async def webhook_faults(request: Request) -> Response:
    """`{"fail_every": N}`: every Nth webhook delivery attempt fails (503) and is retried; 0: none."""
    try:
        body = json.loads(await request.body())
        fail_every = body.get("fail_every") if isinstance(body, dict) else None
        if not isinstance(fail_every, int) or isinstance(fail_every, bool) or fail_every < 0:
            raise ValueError("fail_every must be an integer >= 0")
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    outbox = simulator_of(request).webhooks
    outbox.fail_every = fail_every
    return await webhook_counts(request)


async def webhook_counts(request: Request) -> Response:
    outbox = simulator_of(request).webhooks
    counts = {
        "waiting": len(outbox.waiting),
        "attempts": outbox.attempts,
        "failed_attempts": outbox.failed_attempts,
    }
    return JSONResponse({**counts, "fail_every": outbox.fail_every})


async def stats(request: Request) -> Response:
    return JSONResponse(simulator_of(request).stats())


async def reset(request: Request) -> Response:
    simulator_of(request).reset()
    return JSONResponse({"reset": True})


# Guarded by AdminGuard (in front of routing), not here: see build_simulator_app.
ADMIN_ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route(f"{ADMIN_PREFIX}/faults", queue_fault, methods=["POST"]),
    Route(f"{ADMIN_PREFIX}/faults", list_faults, methods=["GET"]),
    Route(f"{ADMIN_PREFIX}/webhooks", webhook_faults, methods=["POST"]),
    Route(f"{ADMIN_PREFIX}/webhooks", webhook_counts, methods=["GET"]),
    Route(f"{ADMIN_PREFIX}/stats", stats, methods=["GET"]),
    Route(f"{ADMIN_PREFIX}/reset", reset, methods=["POST"]),
    *ACCOUNT_ROUTES,
]
