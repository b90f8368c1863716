"""The proxy's front door: one chain for every path, authenticate -> authorize -> route -> limit ->
forward -> observe (usage)."""

from __future__ import annotations

import logging
import time

import httpx
from starlette.types import Message, Receive, Scope, Send

from aai_mcp.access.principal import Authenticator, Principal
from aai_mcp.access.quota_gate import Admission
from aai_mcp.gateway import Gateway
from aai_mcp.proxy.admission import authenticate, authorize
from aai_mcp.proxy.allowlist import Target, resolve
from aai_mcp.proxy.keys import upstream_key
from aai_mcp.proxy.list_pages import page_links_rewrite
from aai_mcp.proxy.metering import MeteredSend, admit, readable_encodings
from aai_mcp.proxy.pooled import forward_pooled
from aai_mcp.proxy.refusals import Refused, unreachable
from aai_mcp.proxy.relay import request_body, upstream_request
from aai_mcp.proxy.whole_answers import relay_answer

PROXY_PREFIX = "/v1/assemblyai"
NOTHING_HELD = Admission()
log = logging.getLogger("aai_mcp.proxy")
audit = logging.getLogger("aai_mcp.audit")


class ProxyApp:
    """AssemblyAI's REST API for holders of an aai-mcp token with the proxy scope."""

    def __init__(self, gateway: Gateway, authenticator: Authenticator) -> None:
        self.gateway = gateway
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = {"caller": "unauthenticated", "route": "unknown"}
        if scope["type"] != "http":
            await self._call(scope, receive, send, seen)
            return
        started, answered = time.monotonic(), [0]

        async def noted(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered[0] = message["status"]
            await send(message)

        try:
            await self._call(scope, receive, noted, seen)
        finally:
            # One line per proxied call, as per tool call: who, which route (its template: the path's
            # ids are the caller's data; `unknown` when it is not one), the status (0: none answered).
            audit.info(
                "token=%s proxy=%s status=%d duration_ms=%.0f",
                seen["caller"],
                seen["route"],
                answered[0],
                (time.monotonic() - started) * 1000,
            )

    async def _call(self, scope: Scope, receive: Receive, send: Send, seen: dict[str, str]) -> None:
        """Handle one request; `seen` gets the caller's id and the route as they become known."""
        try:
            principal = self._authenticate(scope)
            seen["caller"] = principal.id
            authorize(principal, None)
            target = _route(scope)
            # The method only once the allowlist matched it: before, it is any text the caller sent.
            seen["route"] = f"{scope['method']} {target.host}:{target.route}"
            authorize(principal, target.effect)
            admitted = await self._admit(principal, target)
        except Refused as refused:
            await refused.response()(scope, receive, send)
            return
        try:
            observed = self._observed(principal, target, scope["method"], send, admitted)
            headers = readable_encodings(scope["method"], target, scope["headers"])
            await self._forward(principal, target, {**scope, "headers": headers}, receive, observed)
        finally:
            await self.gateway.quota_gate.release(admitted)

    async def _admit(self, principal: Principal, target: Target) -> Admission:
        # Quotas bind token holders (teams); auth none on loopback spends no team's quota.
        if principal.scopes is None:
            return NOTHING_HELD
        return await admit(self.gateway, principal.account, target.effect)

    def _observed(
        self, principal: Principal, target: Target, method: str, send: Send, admitted: Admission
    ) -> Send:
        """`send`, reading the usage the answer shows on the way (unless it is on the caller's own bill)."""
        if principal.bills_own_key:
            return send
        return MeteredSend(self.gateway, principal.account, method, target, send, admitted.rate)

    def _authenticate(self, scope: Scope) -> Principal:
        if scope["type"] != "http":
            raise Refused(404, "not_found", "The proxy forwards HTTP requests only.")
        return authenticate(self.authenticator, scope["headers"])

    async def _forward(
        self, principal: Principal, target: Target, scope: Scope, receive: Receive, send: Send
    ) -> None:
        upstream = self.gateway.upstream
        rewrite = page_links_rewrite(scope, target, PROXY_PREFIX, upstream.base_urls[target.host])
        pool = self.gateway.key_pool
        if pool is not None and principal.scopes is not None and pool.serves(principal.account):
            await forward_pooled(self.gateway, pool, principal, target, rewrite, scope, receive, send)
            return
        key = upstream_key(principal, target, self.gateway.settings)
        content = request_body(scope["headers"], receive)
        query = scope.get("query_string", b"")
        request = upstream_request(upstream, target, scope["method"], query, scope["headers"], key, content)
        try:
            response = await upstream.send_streaming(target.host, request)
        except httpx.TransportError as exc:
            await unreachable(scope["method"], target.host, exc, log).response()(scope, receive, send)
            return
        try:
            await relay_answer(response, send, rewrite, secret=key)
        finally:
            await response.aclose()


def _route(scope: Scope) -> Target:
    raw = scope.get("raw_path") or scope["path"].encode()
    path = raw.decode("latin-1")
    target = None
    if path.startswith(PROXY_PREFIX + "/"):
        target = resolve(scope["method"], path[len(PROXY_PREFIX) :])
    if target is None:
        raise Refused(404, "not_found", "Not an AssemblyAI API path this proxy forwards.")
    return target
