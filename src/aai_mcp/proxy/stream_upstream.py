"""Opening the upstream half of a proxied streaming session: AssemblyAI's v3 WebSocket in the
configured region, with the account's key (from its pool when it has one), the caller's query as is."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from aai_mcp.access.principal import Principal
from aai_mcp.gateway import Gateway
from aai_mcp.proxy.allowlist import Target
from aai_mcp.proxy.keys import upstream_key
from aai_mcp.proxy.refusals import Refused
from aai_mcp.upstream.client import authorization_value
from aai_mcp.upstream.hosts import websocket_url
from aai_mcp.upstream.key_pool import Choice, KeyPool, NoUsableKey
from aai_mcp.upstream.ratelimit import retry_after_seconds

STREAMING = Target("streaming", "/v3/ws", "transcription")
# Upstream frames waiting to be relayed: a couple, so a client that stops reading stops upstream's
# reads too (websockets pauses the socket past this mark) instead of buffering its answers.
MAX_QUEUED_FRAMES = 2
NOT_PROCESSED = frozenset({401, 403, 429})
log = logging.getLogger("aai_mcp.proxy")


def streaming_url(gateway: Gateway, query: bytes) -> str:
    """The upstream session's URL: the region's (or configured) streaming host, the caller's query."""
    if gateway.settings.simulated:
        raise Refused(
            503,
            "streaming_unavailable",
            "The built-in simulator has no streaming WebSocket in process: run `aai-mcp simulate` and "
            "point --streaming-base-url (with a key) at it, or set ASSEMBLYAI_API_KEY.",
        )
    base = websocket_url(gateway.upstream.base_urls["streaming"], "streaming")
    return base + ("?" + query.decode("latin-1") if query else "")


@asynccontextmanager
async def upstream_session(
    gateway: Gateway, principal: Principal, query: bytes
) -> AsyncIterator[ClientConnection]:
    """The open upstream session (Refused when none could be opened), closed when the block ends."""
    url = streaming_url(gateway, query)
    pool = gateway.key_pool
    if pool is not None and principal.scopes is not None and pool.serves(principal.account):
        async with _pooled_session(gateway, pool, principal.account, url) as connection:
            yield connection
        return
    key = upstream_key(principal, STREAMING, gateway.settings)
    try:
        connection = await _connect(gateway, url, key)
    except InvalidStatus as refused:
        raise _handshake_refusal(refused) from None
    async with connection:
        yield connection


@asynccontextmanager
async def _pooled_session(
    gateway: Gateway, pool: KeyPool, account: str, url: str
) -> AsyncIterator[ClientConnection]:
    """A key of the pool; one that refused the upgrade (429, 401/403: nothing was processed) is
    marked as the REST proxy marks it, and another is tried."""
    tried: set[str] = set()
    while True:
        try:
            choice = await pool.choose(account, None, frozenset(tried))
        except NoUsableKey as exc:
            gateway.metrics.key_event(None, "no_usable_key")
            raise Refused(503, "no_usable_key", exc.message, exc.retry_after) from None
        with pool.using(choice.key):
            try:
                connection = await _connect(gateway, url, choice.key.value.get_secret_value())
            except InvalidStatus as refused:
                if refused.response.status_code not in NOT_PROCESSED:
                    raise _handshake_refusal(refused) from None
                await _mark(gateway, pool, choice, refused)
                tried.add(choice.key.name)
                gateway.metrics.key_event(choice.key.name, "failover")
                continue
            async with connection:
                yield connection
            return


async def _connect(gateway: Gateway, url: str, key: str) -> ClientConnection:
    settings = gateway.settings
    headers = [("Authorization", authorization_value("streaming", key))]
    try:
        connection = await connect(
            url,
            additional_headers=headers,
            open_timeout=settings.connect_timeout_seconds,
            max_queue=MAX_QUEUED_FRAMES,
            user_agent_header=None,
        )
    except InvalidStatus as refused:
        gateway.metrics.upstream_answer("streaming", refused.response.status_code)
        raise
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        gateway.metrics.upstream_answer("streaming", None)
        # Only the type: the text may name the URL, whose query is the caller's.
        log.warning("proxy: the streaming upgrade to AssemblyAI failed: %s", type(exc).__name__)
        message = "AssemblyAI's streaming host could not be reached or did not answer in time."
        raise Refused(502, "upstream_unreachable", message) from None
    gateway.metrics.upstream_answer("streaming", 101)
    return connection


async def _mark(gateway: Gateway, pool: KeyPool, choice: Choice, refused: InvalidStatus) -> None:
    status = refused.response.status_code
    if status == 429:
        gateway.metrics.key_event(choice.key.name, "rate_limited")
        await pool.rate_limited(choice.key, retry_after_seconds(_headers(refused)))
    else:
        gateway.metrics.key_event(choice.key.name, "refused")
        await pool.refused(choice.key, status)


def _handshake_refusal(refused: InvalidStatus) -> Refused:
    """Upstream's refusal of the upgrade, in the proxy's error shape with upstream's status."""
    status = refused.response.status_code
    message = f"AssemblyAI's streaming host refused the session (HTTP {status})."
    return Refused(status, "upstream_refused", message, retry_after_seconds(_headers(refused)))


def _headers(refused: InvalidStatus) -> httpx.Headers:
    return httpx.Headers(list(refused.response.headers.raw_items()))
