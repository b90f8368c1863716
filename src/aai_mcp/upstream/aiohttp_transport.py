"""aiohttp beneath the httpx API, for the call path's JSON requests (bench/PROFILE.md: about 40 % less
CPU per upstream GET than httpcore on this machine).

The code keeps talking httpx (`httpx.AsyncClient`, `httpx.Response`, httpx's exceptions); only the
transport changes. httpx-aiohttp's transport does the work; its exception mapping does not match
httpcore's (a refused connection comes out as ConnectTimeout, a reset as ConnectTimeout, a total
timeout as a bare TimeoutError), and `error_from_transport` tells "could not be reached" from "failed
mid-request" (a POST's outcome unknown) by those types, so every error is mapped again here from the
aiohttp exception it came from.
"""

from __future__ import annotations

import importlib.util
import ssl
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from httpx_aiohttp import AiohttpTransport

Mapping = list[tuple[type[BaseException], type[httpx.TransportError]]]


def aiohttp_available() -> bool:
    """Whether httpx-aiohttp is installed (without importing aiohttp: ~1 s of a loaded machine's start,
    paid only by a gateway that talks to AssemblyAI over the network)."""
    return importlib.util.find_spec("httpx_aiohttp") is not None


def _mapping() -> Mapping:
    """Most specific first: the first match wins. Unknown failures are read errors, which a POST reports
    as 'may have been carried out' (the safe side)."""
    import aiohttp

    return [
        (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
        (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
        (TimeoutError, httpx.ReadTimeout),
        (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
        (aiohttp.ClientConnectorError, httpx.ConnectError),
        (aiohttp.InvalidUrlClientError, httpx.UnsupportedProtocol),
        (aiohttp.ClientPayloadError, httpx.ReadError),
        (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
        (aiohttp.ClientError, httpx.ReadError),
        (OSError, httpx.ReadError),
    ]


def mapped(exc: BaseException) -> httpx.TransportError | None:
    """The httpx exception httpcore would have raised for `exc` (or the aiohttp error behind it)."""
    origin = exc.__cause__ if isinstance(exc, httpx.TransportError) and exc.__cause__ is not None else exc
    for source, target in _mapping():
        if isinstance(origin, source):
            return target(str(origin) or type(origin).__name__)
    return exc if isinstance(exc, httpx.TransportError) else None


class _MappedStream(httpx.AsyncByteStream):
    """The response body, with errors while reading it mapped too (they surface in `aread`)."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except (Exception, TimeoutError) as exc:
            raise _translated(exc) from None

    async def aclose(self) -> None:
        await self._inner.aclose()


def _translated(exc: BaseException) -> BaseException:
    return mapped(exc) or exc


class AiohttpUpstreamTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one aiohttp session, with httpcore's exception types."""

    def __init__(self, tls: ssl.SSLContext, limits: httpx.Limits) -> None:
        self._tls, self._limits = tls, limits
        self._inner: AiohttpTransport | None = None

    def _transport(self) -> AiohttpTransport:
        """Made at the first request: aiohttp is imported then, not at start-up (8 MB of RSS and about
        0.2 s of a start, for a gateway that may only upload, or only list its tools)."""
        if self._inner is None:
            from httpx_aiohttp import AiohttpTransport

            self._inner = AiohttpTransport(verify=self._tls, limits=self._limits, trust_env=False)
        return self._inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._transport().handle_async_request(request)
        except (Exception, TimeoutError) as exc:
            raise _translated(exc) from None
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_MappedStream(response.stream),
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


def fast_transport_factory(
    wanted: bool, proxied: bool
) -> Callable[[ssl.SSLContext], httpx.AsyncBaseTransport] | None:
    """The aiohttp transport's factory when wanted, installed, and no proxy is configured in the
    environment (httpx honours HTTP(S)_PROXY/NO_PROXY; keeping httpx there keeps that behaviour)."""
    if not wanted or proxied or not aiohttp_available():
        return None
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's own defaults
    return lambda tls: AiohttpUpstreamTransport(tls, limits)
