"""Per-request machinery in front of every upstream route: log, latency, faults, auth."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

import anyio
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .account_state import Simulator
from .faults import FaultContext, canned_response, run_with_reset, run_with_slow_body
from .host_rules import Host, host_for_path, presented_key, unauthorized
from .key_accounts import Account
from .llm_windows import SERVICE_LLM, SERVICE_UNDERSTANDING, UNDERSTANDING_MODEL

# Paths upstream answers without a key: the gateway's model list (SDK `api.py:66-68`, and its docs).
PUBLIC_PATHS = frozenset({"/v1/models"})


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The route path (`/v2/transcript/{transcript_id}`) a request hits, for per-route counts."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE and isinstance(route, Route):
            return route.path
    return str(scope["path"])


async def requested_model(scope: Scope, receive: Receive) -> str:
    """The `model` of a gateway request body, for X-RateLimit-Model on a faked 429."""
    if scope["path"] == "/v1/understanding":
        return UNDERSTANDING_MODEL
    try:
        body = json.loads(await Request(scope, receive).body())
    except ValueError:
        return "unknown"
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else "unknown"


class SimulatorMiddleware:
    """Runs the upstream-facing checks in the order a client would notice them."""

    def __init__(self, app: ASGIApp, simulator: Simulator, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.simulator = simulator
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = host_for_path(scope["path"]) if scope["type"] == "http" else None
        if host is None:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        template = route_template(self.routes, scope)
        key = presented_key(host, Headers(scope=scope).get("authorization"))
        account = self.simulator.accounts.get(key) if key is not None else None
        self.simulator.record(method, path, query, template, account)
        if self.simulator.config.latency_ms:
            await anyio.sleep(self.simulator.config.latency_ms / 1000)
        fault = self.simulator.next_fault(method, path)
        inner = self.authenticated(host, account, f"{method} {template}")
        if fault is None:
            await inner(scope, receive, send)
            return
        await self.deliver_fault(fault, host, inner, scope, receive, send)

    def authenticated(self, host: Host, account: Account | None, route: str) -> ASGIApp:
        """The route behind the key's checks: unknown or rejected -> 401, rate-limited -> 429."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["path"] in PUBLIC_PATHS and account is None:
                await self.app(scope, receive, send)
                return
            if account is None:
                await unauthorized(host)(scope, receive, send)
                return
            refusal = await self.key_refusal(host, account, scope, receive)
            if refusal is not None:
                account.refused[refusal.status_code] += 1
                await refusal(scope, receive, send)
                return
            account.answered[route] += 1
            await self.app(scope, receive, send)

        return app

    async def key_refusal(
        self, host: Host, account: Account, scope: Scope, receive: Receive
    ) -> Response | None:
        if account.rejected:
            return unauthorized(host)
        config = self.simulator.config
        wait = account.retry_after(self.simulator.now(), config.retry_after_seconds)
        if wait is None:
            return None
        context = await self.fault_context(host, scope, receive)
        return canned_response("429", replace(context, retry_after_seconds=wait))

    async def deliver_fault(
        self,
        fault: tuple[str, float | None],
        host: Host,
        inner: ASGIApp,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        kind, delay = fault
        if kind == "slow-body":
            seconds = self.simulator.config.slow_body_seconds if delay is None else delay
            await run_with_slow_body(inner, scope, receive, send, seconds)
            return
        if kind == "reset":
            await run_with_reset(inner, scope, receive, send)
            return
        response = canned_response(kind, await self.fault_context(host, scope, receive))
        await response(scope, receive, send)

    async def fault_context(self, host: Host, scope: Scope, receive: Receive) -> FaultContext:
        config = self.simulator.config
        gateway = host is Host.LLM_GATEWAY
        return FaultContext(
            host=host,
            retry_after_seconds=config.retry_after_seconds,
            wall_now=self.simulator.wall_now(),
            model=await requested_model(scope, receive) if gateway else "",
            service=SERVICE_UNDERSTANDING if scope["path"] == "/v1/understanding" else SERVICE_LLM,
            rate_limit=config.gateway_rate_limit,
        )
