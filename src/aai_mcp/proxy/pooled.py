"""Forwarding through the key pool: the key that made the resource, else the least-loaded one; a
refused request (429, 401/403: upstream did not process it) goes out again with another key only
when it is not pinned to its key and its body can be sent again (small JSON, never an upload)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from starlette.types import Receive, Scope, Send

from aai_mcp.access.principal import Principal
from aai_mcp.gateway import Gateway
from aai_mcp.proxy.affinity import followed_resource, made_resources, records_resources
from aai_mcp.proxy.allowlist import Target
from aai_mcp.proxy.refusals import Refused
from aai_mcp.proxy.relay import has_body, read_body, read_raw, relay_response, request_body, upstream_request
from aai_mcp.upstream.key_pool import Choice, KeyPool, NoUsableKey
from aai_mcp.upstream.ratelimit import retry_after_seconds

# Bodies up to this size are kept to be sent again with another key (transcript requests, LLM calls).
MAX_REPLAYED_BODY = 64 * 1024
# Answers read whole to record the resources they name (an upload URL, a transcript or a list page).
MAX_RECORDED_ANSWER = 4 * 1024 * 1024
NOT_PROCESSED = frozenset({401, 403, 429})
log = logging.getLogger("aai_mcp.proxy")


async def forward_pooled(
    gateway: Gateway,
    pool: KeyPool,
    principal: Principal,
    target: Target,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    await _PooledCall(gateway, pool, target, scope, receive, send).run(principal.account)


@dataclass
class _PooledCall:
    gateway: Gateway
    pool: KeyPool
    target: Target
    scope: Scope
    receive: Receive
    send: Send

    async def run(self, account: str) -> None:
        headers = self.scope["headers"]
        try:
            body = await _replayable_body(self.target, headers, self.receive)
        except httpx.ReadError:
            return  # the caller left while sending its body: nobody to answer, nothing sent upstream
        replayable = body is not None or not has_body(headers)
        resource = followed_resource(self.target, body)
        tried: set[str] = set()
        while True:
            try:
                choice = await self.pool.choose(account, resource, frozenset(tried))
            except NoUsableKey as exc:
                self.gateway.metrics.key_event(None, "no_usable_key")
                await self._refuse(Refused(503, "no_usable_key", exc.message, exc.retry_after))
                return
            content = body if body is not None else request_body(headers, self.receive)
            if not await self._send_once(choice, content, replayable):
                return
            tried.add(choice.key.name)
            self.gateway.metrics.key_event(choice.key.name, "failover")
            log.info("proxy: %s refused the request; trying another key", choice.key.name)

    async def _send_once(
        self, choice: Choice, content: bytes | AsyncIterator[bytes] | None, replayable: bool
    ) -> bool:
        """Send with the chosen key and relay the answer; True when it was refused and may go again."""
        method, host = self.scope["method"], self.target.host
        query = self.scope.get("query_string", b"")
        key = choice.key.value.get_secret_value()
        request = upstream_request(
            self.gateway.upstream, self.target, method, query, self.scope["headers"], key, content
        )
        with self.pool.using(choice.key):
            try:
                response = await self.gateway.upstream.send_streaming(host, request)
            except httpx.TransportError as exc:
                # No path: it holds transcript ids, which are the caller's data.
                log.warning(
                    "proxy: %s to %s with %s failed: %s", method, host, choice.key.name, type(exc).__name__
                )
                message = f"AssemblyAI's {host} host could not be reached or did not answer in time."
                await self._refuse(Refused(502, "upstream_unreachable", message))
                return False
            try:
                if response.status_code in NOT_PROCESSED:
                    await self._mark(choice, response)
                    if replayable and not choice.pinned:
                        return True
                await self._relay(choice, response)
                return False
            finally:
                await response.aclose()

    async def _mark(self, choice: Choice, response: httpx.Response) -> None:
        if response.status_code == 429:
            self.gateway.metrics.key_event(choice.key.name, "rate_limited")
            await self.pool.rate_limited(choice.key, retry_after_seconds(response.headers))
        else:
            self.gateway.metrics.key_event(choice.key.name, "refused")
            await self.pool.refused(choice.key, response.status_code)

    async def _relay(self, choice: Choice, response: httpx.Response) -> None:
        length = response.headers.get("content-length")
        small = length is None or (length.isdigit() and int(length) <= MAX_RECORDED_ANSWER)
        recorded = records_resources(self.scope["method"], self.target)
        if not (response.is_success and recorded and small):
            await relay_response(response, self.send)
            return
        raw = await read_raw(response)
        decoded = httpx.Response(200, headers=response.headers, content=raw).content
        await self.pool.remember(made_resources(decoded), choice.key)
        await relay_response(response, self.send, raw)

    async def _refuse(self, refused: Refused) -> None:
        await refused.response()(self.scope, self.receive, self.send)


async def _replayable_body(
    target: Target, headers: list[tuple[bytes, bytes]], receive: Receive
) -> bytes | None:
    """The whole body when it is small enough to send again; uploads are streamed, never kept."""
    if target.path == "/v2/upload":
        return None
    length = next((value for name, value in headers if name.lower() == b"content-length"), None)
    if length is None or not length.isdigit() or int(length) > MAX_REPLAYED_BODY:
        return None
    return await read_body(receive)
