"""Opening the upstream half of a proxied streaming session: AssemblyAI's v3 WebSocket in the
configured region, with the account's key (from its pool when it has one), the caller's query as is.

The session counts as open once upstream's first message came (its `Begin`): AssemblyAI accepts the
upgrade of a bad key and only then closes it with 1008, so a key is judged before the caller is
accepted, and a refused key of a pool is marked and replaced as the REST proxy does."""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from aai_mcp.access.principal import Principal
from aai_mcp.gateway import Gateway
from aai_mcp.proxy.allowlist import Target
from aai_mcp.proxy.keys import upstream_key
from aai_mcp.proxy.refusals import Refused
from aai_mcp.proxy.stream_in_process import AppRefused, in_process_session
from aai_mcp.proxy.stream_relay import UpstreamSocket
from aai_mcp.upstream.client import authorization_value
from aai_mcp.upstream.hosts import websocket_url
from aai_mcp.upstream.key_pool import Choice, KeyPool, NoUsableKey
from aai_mcp.upstream.pooled_send import NOT_PROCESSED
from aai_mcp.upstream.ratelimit import retry_after_seconds

STREAMING = Target("streaming", "/v3/ws", "transcription")
# Upstream frames waiting to be relayed: a couple, so a client that stops reading stops upstream's
# reads too (websockets pauses the socket past this mark) instead of buffering its answers.
MAX_QUEUED_FRAMES = 2
# AssemblyAI's close for a missing, invalid or expired credential (the simulator's too).
KEY_REFUSED_CLOSE = 1008
UNREACHABLE = "AssemblyAI's streaming host could not be reached or did not answer in time."
log = logging.getLogger("aai_mcp.proxy")


class _NoDebug(logging.LoggerAdapter[logging.Logger]):
    """websockets logs every header (the upstream key) and frame (the caller's transcripts) when its
    logger is debug-enabled: this one never is, whatever the server's log level."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


WIRE_LOG = _NoDebug(logging.getLogger("aai_mcp.proxy.upstream"))


class OpenedUpstream:
    """An upstream session and the messages already read from it (its Begin, or an Error)."""

    def __init__(self, connection: UpstreamSocket, read: list[str | bytes]) -> None:
        self.connection = connection
        self.read = deque(read)

    @property
    def close_code(self) -> int | None:
        return self.connection.close_code

    @property
    def close_reason(self) -> str | None:
        return self.connection.close_reason

    async def recv(self) -> str | bytes:
        if self.read:
            return self.read.popleft()
        return await self.connection.recv()

    async def send(self, message: str | bytes) -> None:
        await self.connection.send(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.connection.close(code, reason)


class UpgradeRefused(Exception):
    """Upstream refused the session: an HTTP status for the upgrade, or a 1008 close before Begin."""

    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(status)
        self.status, self.retry_after = status, retry_after


def streaming_url(gateway: Gateway, query: bytes) -> str:
    """The upstream session's URL: the region's (or configured) streaming host, the caller's query."""
    if gateway.settings.simulated and gateway.in_process_app is None:
        # The simulator's made-up host is never looked up: only its in-process app can answer.
        raise Refused(503, "streaming_unavailable", "No streaming simulator runs in this process.")
    base = websocket_url(gateway.upstream.base_urls["streaming"], "streaming")
    return base + ("?" + query.decode("latin-1") if query else "")


@asynccontextmanager
async def upstream_session(
    gateway: Gateway, principal: Principal, query: bytes
) -> AsyncIterator[OpenedUpstream]:
    """The open upstream session (Refused when none could be opened), closed when the block ends."""
    url = streaming_url(gateway, query)
    pool = gateway.key_pool
    if pool is not None and principal.scopes is not None and pool.serves(principal.account):
        async with _pooled_session(gateway, pool, principal.account, url) as upstream:
            yield upstream
        return
    key = upstream_key(principal, STREAMING, gateway.settings)
    async with AsyncExitStack() as stack:
        try:
            upstream = await stack.enter_async_context(_session(gateway, url, key))
        except UpgradeRefused as refused:
            raise _refusal(refused) from None
        yield upstream


@asynccontextmanager
async def _pooled_session(
    gateway: Gateway, pool: KeyPool, account: str, url: str
) -> AsyncIterator[OpenedUpstream]:
    """A key of the pool; one that upstream refused (nothing was processed) is marked and another is
    tried, as upstream/pooled_send.py does for a request. Not that loop itself: a session holds its
    key (`using`, which the least-loaded choice reads) for as long as it lasts, not for one answer."""
    tried: set[str] = set()
    while True:
        try:
            choice = await pool.choose(account, None, frozenset(tried))
        except NoUsableKey as exc:
            pool.event(None, "no_usable_key")
            raise Refused(503, "no_usable_key", exc.message, exc.retry_after) from None
        with pool.using(choice.key):
            async with AsyncExitStack() as stack:
                key = choice.key.value.get_secret_value()
                try:
                    upstream = await stack.enter_async_context(_session(gateway, url, key))
                except UpgradeRefused as refused:
                    if refused.status not in NOT_PROCESSED:
                        raise _refusal(refused) from None
                    await _mark(pool, choice, refused)
                    tried.add(choice.key.name)
                    pool.event(choice.key, "failover")
                    continue
                yield upstream
                return


@asynccontextmanager
async def _session(gateway: Gateway, url: str, key: str) -> AsyncIterator[OpenedUpstream]:
    """Connected, with upstream's first message read; UpgradeRefused when upstream refused."""
    async with _connected(gateway, url, key) as connection:
        yield OpenedUpstream(connection, await _first_messages(gateway, connection))


@asynccontextmanager
async def _connected(gateway: Gateway, url: str, key: str) -> AsyncIterator[UpstreamSocket]:
    """Over the network, or with the app that stands in for AssemblyAI in this process."""
    app = gateway.in_process_app
    if app is None:
        async with await _connect(gateway, url, key) as connection:
            yield connection
        return
    authorization = authorization_value("streaming", key)
    async with AsyncExitStack() as stack:
        try:
            session = await stack.enter_async_context(in_process_session(app, httpx.URL(url), authorization))
        except AppRefused as refused:
            gateway.metrics.upstream_answer("streaming", refused.status)
            raise UpgradeRefused(refused.status, refused.retry_after) from None
        gateway.metrics.upstream_answer("streaming", 101)
        yield session


async def _first_messages(gateway: Gateway, connection: UpstreamSocket) -> list[str | bytes]:
    """Upstream's first message (its Begin), with the close after it when it is an Error instead;
    UpgradeRefused when that close (or the one in place of any message) refuses the key."""
    read: list[str | bytes] = []
    try:
        with anyio.fail_after(gateway.settings.timeout_seconds):
            read.append(await connection.recv())
            if _is_error(read[0]):
                read.append(await connection.recv())  # the close follows an Error
    except ConnectionClosed:
        if connection.close_code == KEY_REFUSED_CLOSE:
            raise UpgradeRefused(401) from None
    except TimeoutError:
        await connection.close()
        raise Refused(502, "upstream_unreachable", UNREACHABLE) from None
    return read


def _is_error(message: str | bytes) -> bool:
    if not isinstance(message, str) or '"Error"' not in message:
        return False
    try:
        document = json.loads(message)
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("type") == "Error"


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
            logger=WIRE_LOG,
        )
    except InvalidStatus as refused:
        status = refused.response.status_code
        gateway.metrics.upstream_answer("streaming", status)
        raise UpgradeRefused(status, retry_after_seconds(_headers(refused))) from None
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        gateway.metrics.upstream_answer("streaming", None)
        # Only the type: the text may name the URL, whose query is the caller's.
        log.warning("proxy: the streaming upgrade to AssemblyAI failed: %s", type(exc).__name__)
        raise Refused(502, "upstream_unreachable", UNREACHABLE) from None
    gateway.metrics.upstream_answer("streaming", 101)
    return connection


async def _mark(pool: KeyPool, choice: Choice, refused: UpgradeRefused) -> None:
    """As upstream/pooled_send.py marks a refused request (the pool counts the event)."""
    if refused.status == 429:
        await pool.rate_limited(choice.key, refused.retry_after)
    else:
        await pool.refused(choice.key, refused.status)


def _refusal(refused: UpgradeRefused) -> Refused:
    """Upstream's refusal, in the proxy's error shape with upstream's status."""
    message = f"AssemblyAI's streaming host refused the session (HTTP {refused.status})."
    return Refused(refused.status, "upstream_refused", message, refused.retry_after)


def _headers(refused: InvalidStatus) -> httpx.Headers:
    return httpx.Headers(list(refused.response.headers.raw_items()))
