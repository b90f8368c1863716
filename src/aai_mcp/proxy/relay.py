"""Forwarding one allowed call: the request body streamed up as it arrives, the answer streamed back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.types import Receive, Send

from aai_mcp.config.settings import Settings
from aai_mcp.proxy.allowlist import Target
from aai_mcp.proxy.headers import RawHeaders, forwarded_request_headers, returned_response_headers
from aai_mcp.upstream import Upstream
from aai_mcp.upstream.client import authorization_value, host_timeout
from aai_mcp.upstream.ratelimit import normalized_rate_limit


def upstream_request(
    upstream: Upstream,
    target: Target,
    method: str,
    query: bytes,
    headers: RawHeaders,
    key: str,
    content: bytes | AsyncIterator[bytes] | None,
) -> httpx.Request:
    """The caller's request rewritten for `target`: fixed host, the caller's path and query bytes,
    `content` the body (`request_body`, or the same bytes again when the pool repeats a request)."""
    base = httpx.URL(upstream.base_urls[target.host])
    # A base URL's own path stays in front (the simulator serves Sync under /sync, Dictation under
    # /dictation; a configured --sync-base-url may have one too); AssemblyAI's hosts have none.
    raw_path = base.raw_path.rstrip(b"/") + target.path.encode() + (b"?" + query if query else b"")
    url = base.copy_with(raw_path=raw_path)
    sent = forwarded_request_headers(headers)
    sent.append((b"authorization", authorization_value(target.host, key).encode()))
    timeout = _timeout(upstream.settings, target)
    return httpx.Request(method, url, headers=sent, content=content, extensions={"timeout": timeout})


def has_body(headers: RawHeaders) -> bool:
    return any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in headers)


def request_body(headers: RawHeaders, receive: Receive) -> AsyncIterator[bytes] | None:
    """The caller's body as it arrives, or None when the request has none."""
    return _request_body(receive) if has_body(headers) else None


async def read_body(receive: Receive) -> bytes:
    """The whole body, for a small one the pool may have to send again."""
    return b"".join([chunk async for chunk in _request_body(receive)])


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise httpx.ReadError("the caller went away while sending the body")
        if body := message.get("body", b""):
            yield body
        if not message.get("more_body", False):
            return


def _timeout(settings: Settings, target: Target) -> dict[str, float | None]:
    # Audio sent up (an upload, a Sync or Dictation clip) takes the upload timeout; TTS its own.
    if target.path == "/v2/upload" or target.host in ("sync", "dictation"):
        read = settings.upload_timeout_seconds
        return httpx.Timeout(read, connect=settings.connect_timeout_seconds).as_dict()
    return host_timeout(settings, target.host).as_dict()


async def relay_response(
    response: httpx.Response,
    send: Send,
    body: AsyncIterator[bytes] | None = None,
    headers: RawHeaders | None = None,
) -> None:
    """Upstream's status, headers and raw (still encoded) body bytes, chunk by chunk; `body` and
    `headers`: what to send instead, for an answer already read (proxy/whole_answers.py)."""
    if headers is None:
        headers = returned_response_headers(response.headers.raw)
        if response.status_code == 429:
            headers += _missing_rate_limit_headers(response.headers)
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    try:
        async for chunk in raw_chunks(response) if body is None else body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except httpx.TransportError as exc:
        # Too late for a 502: the connection must break so the caller cannot take the cut answer for
        # a whole one. httpx's text names the URL (transcript ids), so only the type is kept.
        raise AnswerCutOff(f"the upstream answer broke off ({type(exc).__name__})") from None
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as upstream sent it (still encoded), chunk by chunk."""
    if response.is_stream_consumed:
        # A transport that hands over the body already read (httpx.MockTransport, respx).
        yield response.content
        return
    async for chunk in response.aiter_raw():
        yield chunk


class AnswerCutOff(Exception):
    """Upstream stopped in the middle of an answer already being relayed."""


def _missing_rate_limit_headers(headers: httpx.Headers) -> RawHeaders:
    """The normalized RateLimit-* headers upstream did not send itself, so every client reads one form."""
    added = []
    for name, value in normalized_rate_limit(headers).items():
        header = "retry-after" if name == "retry_after_seconds" else name
        if header not in headers:
            added.append((header.encode(), str(value).encode()))
    return added
