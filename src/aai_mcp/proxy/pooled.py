"""Forwarding through the key pool: the upstream layer (upstream/pooled_send.py) picks the key, marks
refusals and goes again with another key; here only what is HTTP: the caller's body (kept whole when
small, so it can be sent again), the answer relayed (read whole when it names resources to remember:
proxy/whole_answers.py) and the proxy's own refusals (503 no_usable_key, 502)."""

from __future__ import annotations

import logging

import httpx
from starlette.types import Receive, Scope, Send

from aai_mcp.access.accounts import PoolKey
from aai_mcp.access.principal import Principal
from aai_mcp.gateway import Gateway
from aai_mcp.proxy.allowlist import Target
from aai_mcp.proxy.list_pages import Rewrite
from aai_mcp.proxy.refusals import Refused, unreachable
from aai_mcp.proxy.relay import has_body, read_body, request_body, upstream_request
from aai_mcp.proxy.whole_answers import relay_answer
from aai_mcp.upstream.affinity import UPLOAD, followed_resource, records_resources
from aai_mcp.upstream.key_pool import KeyPool, NoUsableKey
from aai_mcp.upstream.pooled_send import PooledKeys, Sent

# Bodies up to this size are kept to be sent again with another key (transcript requests, LLM calls).
MAX_REPLAYED_BODY = 64 * 1024
log = logging.getLogger("aai_mcp.proxy")


async def forward_pooled(
    gateway: Gateway,
    pool: KeyPool,
    principal: Principal,
    target: Target,
    rewrite: Rewrite | None,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """`rewrite`: what changes a successful answer read whole (a list page's links), if anything."""
    headers = scope["headers"]
    try:
        body = await _replayable_body(target, headers, receive)
    except httpx.ReadError:
        return  # the caller left while sending its body: nobody to answer, nothing sent upstream
    keys = PooledKeys(pool, principal.account)

    async def attempt(key: PoolKey) -> httpx.Response:
        content = body if body is not None else request_body(headers, receive)
        query = scope.get("query_string", b"")
        secret = key.value.get_secret_value()
        request = upstream_request(gateway.upstream, target, scope["method"], query, headers, secret, content)
        return await gateway.upstream.send_streaming(target.host, request)

    try:
        sent = await keys.send(
            followed_resource(target.path, body), body is not None or not has_body(headers), attempt
        )
    except NoUsableKey as exc:
        await Refused(503, "no_usable_key", exc.message, exc.retry_after).response()(scope, receive, send)
        return
    except httpx.TransportError as exc:
        await unreachable(scope["method"], target.host, exc, log).response()(scope, receive, send)
        return
    try:
        recorded = records_resources(target.host, scope["method"], target.path)
        await _relay(keys, sent, recorded, rewrite, send)
    finally:
        await sent.response.aclose()


async def _relay(keys: PooledKeys, sent: Sent, recorded: bool, rewrite: Rewrite | None, send: Send) -> None:
    async def remember(decoded: bytes) -> None:
        await keys.remember(decoded, sent.choice.key)

    secret = sent.choice.key.value.get_secret_value()
    await relay_answer(sent.response, send, rewrite, remember if recorded else None, secret)


async def _replayable_body(
    target: Target, headers: list[tuple[bytes, bytes]], receive: Receive
) -> bytes | None:
    """The whole body when it is small enough to send again; uploads are streamed, never kept."""
    if target.path == UPLOAD:
        return None
    length = next((value for name, value in headers if name.lower() == b"content-length"), None)
    if length is None or not length.isdigit() or int(length) > MAX_REPLAYED_BODY:
        return None
    return await read_body(receive)
