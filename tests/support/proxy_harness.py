"""The team proxy under test: a gateway whose upstream is a recording transport (a helper, not tests)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from aai_mcp.access import Scopes, mint
from aai_mcp.access.principal import Authenticator
from aai_mcp.access.tokens import Minted
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.transports.http import build_http_app
from tests.support import make_settings

SECRET = "proxy-signing-secret-0123456789abcdefgh"
PROXY = "/v1/assemblyai"
GATEWAY_URL = "http://127.0.0.1:8000"


def proxy_token(scopes: Scopes | None = None) -> str:
    """A token with the proxy scope unless `scopes` says otherwise."""
    return proxy_minted(scopes).token


def proxy_minted(scopes: Scopes | None = None) -> Minted:
    chosen = Scopes(proxy=True) if scopes is None else scopes
    return mint(SECRET.encode(), name="proxy test", scopes=chosen, expires_at=None)


@dataclass
class Seen:
    """One request as upstream received it, its body chunk by chunk."""

    request: httpx.Request
    chunks: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


class RecordingUpstream(httpx.AsyncBaseTransport):
    """Upstream for the proxy: records each request as its body arrives, answers with `reply`."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.first_chunk = anyio.Event()
        self.first_chunk_seen = threading.Event()  # for a client in another thread (a real server)
        self.status = 200
        self.headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
        self.body = b'{"ok": true}'
        self.error: httpx.TransportError | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        seen = Seen(request)
        self.seen.append(seen)
        if self.error is not None:
            raise self.error
        assert isinstance(request.stream, httpx.AsyncByteStream)
        async for chunk in request.stream:
            seen.chunks.append(chunk)
            self.first_chunk.set()
            self.first_chunk_seen.set()
        return httpx.Response(self.status, headers=self.headers, stream=_Body(self.body))


class _Body(httpx.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.body


def proxy_gateway(upstream: httpx.AsyncBaseTransport | None, **settings: Any) -> Gateway:
    """A gateway whose upstream is `upstream` (None: the network, for respx to intercept)."""
    values: dict[str, Any] = {"auth": ["tokens"], "token_secrets": SECRET, **settings}
    return build_gateway(make_settings(**values), transport=upstream)


def proxy_client(gateway: Gateway, authenticator: Authenticator | None = None) -> httpx.AsyncClient:
    """A client of the whole HTTP app (every middleware), in memory."""
    transport = httpx.ASGITransport(app=build_http_app(gateway, authenticator))
    return httpx.AsyncClient(transport=transport, base_url=GATEWAY_URL)
