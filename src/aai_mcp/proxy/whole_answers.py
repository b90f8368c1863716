"""Answers read whole before they are relayed: by the pool, to remember the resources they name (an
upload URL, a transcript, a list page), and for a transcript list, to move its page links onto the
proxy (list_pages.py). Reading is bounded; anything too big, undecodable or not wanted whole is
relayed as upstream sent it, byte for byte."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
from starlette.types import Send

from aai_mcp.proxy.headers import returned_response_headers
from aai_mcp.proxy.list_pages import Rewrite
from aai_mcp.proxy.metering import READABLE_CODINGS
from aai_mcp.proxy.relay import raw_chunks, relay_response

# Upstream answers that name resources are small (a list page is at most 200 short items).
MAX_READ_ANSWER = 4 * 1024 * 1024
# Encoded bytes are decoded this many at a time, so one step of a compression bomb stays small.
DECODE_STEP = 16 * 1024

Remember = Callable[[bytes], Awaitable[None]]


async def relay_answer(
    response: httpx.Response,
    send: Send,
    rewrite: Rewrite | None = None,
    remember: Remember | None = None,
    secret: str | None = None,
) -> None:
    """Upstream's answer to the caller; a success read whole (within MAX_READ_ANSWER) when `remember`
    wants its decoded body or `rewrite` may change it (then it goes out decoded, identity); an error
    read whole so the upstream key it was sent with (`secret`) never goes back in it."""
    if secret and not response.is_success:
        await _relay_without(secret, response, send)
        return
    if not (response.is_success and (rewrite or remember) and _declared_small(response)):
        await relay_response(response, send)
        return
    source = raw_chunks(response)
    chunks, whole = await _read_at_most(source, MAX_READ_ANSWER)
    if not whole:
        await relay_response(response, send, _then_rest(chunks, source))
        return
    raw = b"".join(chunks)
    decoded = _decoded_within(raw, response.headers, MAX_READ_ANSWER)
    if decoded is not None and remember is not None:
        await remember(decoded)
    changed = rewrite(decoded) if decoded is not None and rewrite is not None else None
    if changed is None:
        await relay_response(response, send, _once(raw))
        return
    await relay_response(response, send, _once(changed), _identity_headers(response, len(changed)))


async def _relay_without(secret: str, response: httpx.Response, send: Send) -> None:
    """An error answer with the key replaced by `***` where upstream echoed it (an "Invalid API key
    <key>" message); as sent when it does not name it."""
    source = raw_chunks(response)
    chunks, whole = await _read_at_most(source, MAX_READ_ANSWER)
    raw = b"".join(chunks)
    decoded = _decoded_within(raw, response.headers, MAX_READ_ANSWER) if whole else None
    if decoded is None:
        # Too large, or in a coding this process cannot undo: it cannot be checked, so it is not sent.
        await _unchecked_error(response, send)
        return
    if secret.encode() not in decoded:
        await relay_response(response, send, _once(raw))
        return
    changed = decoded.replace(secret.encode(), b"***")
    await relay_response(response, send, _once(changed), _identity_headers(response, len(changed)))


async def _unchecked_error(response: httpx.Response, send: Send) -> None:
    body = json.dumps(
        {
            "error": f"AssemblyAI answered {response.status_code} with a body this gateway could not check "
            "for its key (too large, or in an unreadable Content-Encoding), so it is not relayed"
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await relay_response(response, send, _once(body), headers)


def _declared_small(response: httpx.Response) -> bool:
    length = response.headers.get("content-length")
    return length is None or (length.isdigit() and int(length) <= MAX_READ_ANSWER)


async def _read_at_most(source: AsyncIterator[bytes], limit: int) -> tuple[list[bytes], bool]:
    """The chunks read, and whether that is the whole body (False: it passed `limit`, and the rest
    is still in `source`)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in source:
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return chunks, False
    return chunks, True


def _decoded_within(raw: bytes, headers: httpx.Headers, limit: int) -> bytes | None:
    """The body with its Content-Encoding undone as httpx does (gzip, deflate), or None when it names
    another coding, cannot be decoded or decodes to more than `limit`."""
    codings = [c.strip().lower() for c in headers.get("content-encoding", "").split(",") if c.strip()]
    if any(coding.encode() not in READABLE_CODINGS for coding in codings):
        return None  # httpx passes a coding it cannot undo (br, zstd without their packages) as is
    steps = (raw[start : start + DECODE_STEP] for start in range(0, len(raw), DECODE_STEP))
    decoding = httpx.Response(200, headers=headers, content=steps)
    decoded = bytearray()
    try:
        for chunk in decoding.iter_bytes():
            decoded += chunk
            if len(decoded) > limit:
                return None
    except httpx.DecodingError:
        return None
    return bytes(decoded)


def _identity_headers(response: httpx.Response, length: int) -> list[tuple[bytes, bytes]]:
    """Upstream's headers for a body now sent decoded: no Content-Encoding, the new length."""
    kept = [
        (name, value)
        for name, value in returned_response_headers(response.headers.raw)
        if name.lower() not in (b"content-encoding", b"content-length")
    ]
    return [*kept, (b"content-length", str(length).encode())]


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def _then_rest(read: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in read:
        yield chunk
    async for chunk in rest:
        yield chunk
