"""One httpx.AsyncClient per AssemblyAI host, with the right auth and timeouts for each."""

from __future__ import annotations

import copy
import json
import random
import urllib.request
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import orjson

from aai_mcp import __version__
from aai_mcp.access.accounts import PoolKey
from aai_mcp.catalog.model import HostName, Route
from aai_mcp.config.settings import Settings
from aai_mcp.upstream.affinity import followed_resource, records_resources
from aai_mcp.upstream.aiohttp_transport import fast_transport_factory
from aai_mcp.upstream.errors import (
    RETRYABLE_STATUSES,
    UpstreamError,
    error_from_response,
    error_from_transport,
    malformed_body,
    no_usable_key,
)
from aai_mcp.upstream.hosts import base_urls
from aai_mcp.upstream.key_pool import NoUsableKey
from aai_mcp.upstream.pooled_send import PooledKeys

if TYPE_CHECKING:  # aai_mcp.metrics imports upstream.errors, which runs this package's __init__ first
    from aai_mcp.metrics import Metrics

# Told of every successful answer an Upstream reads whole (host, method, path, response): usage metering.
AnswerHook = Callable[[HostName, str, str, httpx.Response], Awaitable[None]]

# The Voice Agent host documents `Authorization: Bearer <key>`; every other host takes the bare key.
BEARER_HOSTS: frozenset[HostName] = frozenset({"agents"})


def authorization_value(host: HostName, key: str) -> str:
    """The Authorization header value `host` expects for `key`."""
    return f"Bearer {key}" if host in BEARER_HOSTS else key


def host_timeout(settings: Settings, host: HostName) -> httpx.Timeout:
    """Text-to-speech answers whole only when the clip is done, which can take minutes: its own read
    timeout when one is set."""
    read = settings.tts_timeout_seconds if host == "tts" else None
    return httpx.Timeout(read or settings.timeout_seconds, connect=settings.connect_timeout_seconds)


class Upstream:
    """The gateway's only way out to AssemblyAI. Create at start-up, `aclose()` at shutdown."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`metrics`: where each attempt's answer is counted (the gateway's; None counts nothing)."""
        self.settings = settings
        self.metrics = metrics
        self.base_urls = base_urls(settings)
        self._key = settings.api_key_value()
        self._own_key = False
        self._is_view = False
        self.on_answer: AnswerHook | None = None
        self._pooled: PooledKeys | None = None
        # One TLS context for all four hosts: each context loads the CA bundle again (~0.7 MB of RSS).
        tls = httpx.create_ssl_context()
        self._clients: dict[HostName, httpx.AsyncClient] = {
            host: httpx.AsyncClient(
                base_url=url,
                headers=self._auth_headers(host, settings.api_key_value()),
                timeout=host_timeout(settings, host),
                transport=transport,
                follow_redirects=False,
                verify=tls,
            )
            for host, url in self.base_urls.items()
        }
        # The call path's JSON requests go over aiohttp beneath the same httpx API where it can (bench/
        # PROFILE.md); uploads, whole-body POSTs and proxied streams keep httpcore's streaming, whose
        # memory bounds were measured with it. A transport given in (tests, the simulator) is used as is.
        self._json_clients = dict(self._clients)
        fast = fast_transport_factory(
            settings.upstream_transport == "aiohttp" and transport is None, _env_proxied()
        )
        if fast is not None:
            self._json_clients = {
                host: httpx.AsyncClient(
                    base_url=url,
                    headers=self._auth_headers(host, settings.api_key_value()),
                    timeout=host_timeout(settings, host),
                    transport=fast(tls),
                    follow_redirects=False,
                )
                for host, url in self.base_urls.items()
            }

    @staticmethod
    def _auth_headers(host: HostName, key: str) -> dict[str, str]:
        return {"Authorization": authorization_value(host, key), "User-Agent": f"aai-mcp/{__version__}"}

    async def __aenter__(self) -> Upstream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def with_key(self, key: str) -> Upstream:
        """The same connections, authenticating every call with `key` (a caller's or an account's)."""
        view = copy.copy(self)
        view._key, view._own_key, view._is_view = key, True, True
        return view

    def observed(self, hook: AnswerHook) -> Upstream:
        """The same connections and key, telling `hook` of each successful answer."""
        view = copy.copy(self)
        view.on_answer, view._is_view = hook, True
        return view

    def pooled(self, keys: PooledKeys) -> Upstream:
        """The same connections, each call's key chosen by the account's key pool (affinity, cooldowns,
        failover), as the proxy chooses it."""
        view = self.with_key(self._key)
        view._pooled = keys
        return view

    def _per_call_headers(self, host: HostName) -> dict[str, str] | None:
        return (
            {"Authorization": self._auth_headers(host, self._key)["Authorization"]} if self._own_key else None
        )

    def _count(self, host: HostName, status: int | None) -> None:
        if self.metrics is not None:
            self.metrics.upstream_answer(host, status)

    async def send_streaming(self, host: HostName, request: httpx.Request) -> httpx.Response:
        """Send a request built elsewhere (the proxy's) on `host`'s connections, the answer unread:
        the caller streams it and must close it."""
        return await self._clients[host].send(request, stream=True)

    async def aclose(self) -> None:
        if self._is_view:
            return  # a view shares the connections of the Upstream it came from
        for client in {*self._clients.values(), *self._json_clients.values()}:
            await client.aclose()

    async def request(
        self,
        host: HostName,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        """Send one call; GETs are retried on 5xx and connection errors, nothing else ever is."""
        attempts = 1 + (self.settings.get_retries if method == "GET" else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._send_json(host, method, path, params, json_body)
            except httpx.TransportError as exc:
                self._count(host, None)
                # Only GETs get a second attempt: a POST may already have reached upstream.
                if last:
                    raise error_from_transport(exc, host, method) from None
            else:
                if response.is_success:
                    if self.on_answer is not None:
                        await self.on_answer(host, method, path, response)
                    return response
                if last or response.status_code == 429 or response.status_code not in RETRYABLE_STATUSES:
                    raise self._redacted(error_from_response(response))
            await anyio.sleep(_backoff(self.settings.retry_backoff_seconds, attempt))
        raise AssertionError("unreachable")

    async def upload(
        self, route: Route, chunks: AsyncIterable[bytes], size: int | None = None
    ) -> dict[str, Any]:
        """Stream raw bytes to the tool's declared upload call, POST /v2/upload (never multipart, never
        base64)."""
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        # The chunks are spent by the one attempt: never sent again, with this key or another.
        response = await self._send_once(route, chunks, headers, self.settings.upload_timeout_seconds)
        answer = decode_json(response)
        if not isinstance(answer, dict) or "upload_url" not in answer:
            raise malformed_body(response.status_code, "no upload_url in the answer")
        return answer

    async def post_whole(
        self, route: Route, content: bytes, headers: Mapping[str, str], timeout_seconds: float
    ) -> Any:
        """POST a body built elsewhere (Sync, Dictation: config-first multipart) to a declared call, once
        (a clip may be billed the moment it lands), and the JSON answer."""
        return decode_json(await self._send_once(route, content, headers, timeout_seconds))

    async def _send_once(
        self,
        route: Route,
        content: bytes | AsyncIterable[bytes],
        headers: Mapping[str, str],
        timeout_seconds: float,
    ) -> httpx.Response:
        """POST `content` to `route` exactly once, with this view's key or the pool's choice; every answer
        counted, a failure raised as an UpstreamError, a success told to `on_answer`."""
        client = self._clients[route.host]
        timeout = httpx.Timeout(timeout_seconds, connect=self.settings.connect_timeout_seconds)

        async def attempt(key: PoolKey | None) -> httpx.Response:
            auth = self._per_call_headers(route.host) if key is None else self._key_header(route.host, key)
            response = await client.request(
                route.method,
                route.path,
                content=content,
                headers={**headers, **(auth or {})},
                timeout=timeout,
            )
            self._count(route.host, response.status_code)
            return response

        try:
            response = await self._pooled_or_not(route.host, route.method, route.path, None, False, attempt)
        except httpx.TransportError as exc:
            self._count(route.host, None)
            raise error_from_transport(exc, route.host, route.method) from None
        if not response.is_success:
            raise self._redacted(error_from_response(response))
        if self.on_answer is not None:
            await self.on_answer(route.host, route.method, route.path, response)
        return response

    async def _send_json(
        self, host: HostName, method: str, path: str, params: Mapping[str, str] | None, json_body: Any
    ) -> httpx.Response:
        # Only GETs take the aiohttp path: aiohttp re-sends an idempotent method (DELETE, PUT) on its
        # own after a dropped keep-alive connection, and nothing but a GET may be sent twice here. Nor a
        # path with an encoded dot (path_segment's "%2E", so no id climbs out with ".."): aiohttp's URL
        # parser decodes and resolves it, httpcore sends it as it is.
        fast = method == "GET" and "%2e" not in path.lower()
        client = self._json_clients[host] if fast else self._clients[host]

        async def attempt(key: PoolKey | None) -> httpx.Response:
            headers = self._per_call_headers(host) if key is None else self._key_header(host, key)
            response = await client.request(method, path, params=params, json=json_body, headers=headers)
            self._count(host, response.status_code)
            return response

        resource = followed_resource(path, json_body)
        return await self._pooled_or_not(host, method, path, resource, True, attempt)

    async def _pooled_or_not(
        self,
        host: HostName,
        method: str,
        path: str,
        resource: str | None,
        replayable: bool,
        attempt: Callable[[PoolKey | None], Awaitable[httpx.Response]],
    ) -> httpx.Response:
        """`attempt` with this view's key, or with the pool's choice (recording what the answer made)."""
        if self._pooled is None:
            return await attempt(None)
        try:
            sent = await self._pooled.send(resource, replayable, attempt)
        except NoUsableKey as exc:
            raise no_usable_key(exc.message, exc.retry_after) from None
        if sent.response.is_success and records_resources(host, method, path):
            await self._pooled.remember(sent.response.content, sent.choice.key)
        return sent.response

    @staticmethod
    def _key_header(host: HostName, key: PoolKey) -> dict[str, str]:
        return {"Authorization": authorization_value(host, key.value.get_secret_value())}

    def _redacted(self, error: UpstreamError) -> UpstreamError:
        """Blank out this view's key, and every key of its pool, should upstream echo one back."""
        error.redacted(self._key)
        if self._pooled is not None:
            for key in self._pooled.pool.pools[self._pooled.account]:
                error.redacted(key.value.get_secret_value())
        return error


def _env_proxied() -> bool:
    """Whether the environment names a proxy (HTTP(S)_PROXY, ALL_PROXY), as httpx would honour it."""
    return any(scheme in urllib.request.getproxies() for scheme in ("http", "https", "all"))


def decode_json(response: httpx.Response) -> Any:
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:
        raise malformed_body(response.status_code, f"content type {content_type or 'none'!r} instead of JSON")
    try:
        # orjson: a completed transcript is ~30 KB of JSON, and decoding it was the largest single cost
        # of a get_transcript call (bench/PROFILE.md); the stdlib still gets the final say below.
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        pass
    try:
        return response.json()  # also takes what orjson refuses: NaN, UTF-16/32 bodies
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise malformed_body(response.status_code, "a body that is not valid JSON") from None


def decode_text(response: httpx.Response) -> str:
    """A plain-text answer (subtitles). Upstream labels those text/html, so the content type cannot
    tell an error page from captions: a body that opens like an HTML or JSON document is refused."""
    text = response.text
    if text.lstrip()[:1] in ("<", "{", "["):
        raise malformed_body(response.status_code, "an HTML or JSON document instead of plain text")
    return text


def _backoff(base: float, attempt: int) -> float:
    jitter: float = random.uniform(0.5, 1.0)
    return base * jitter * (1 << attempt)
