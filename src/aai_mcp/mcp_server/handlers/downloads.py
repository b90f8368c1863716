"""upload_file(url): fetch a public URL and relay it to /v2/upload as it arrives, within bounds.

Bounds: every hop's host is checked and pinned before anything is sent (netguard), the bytes are
counted as they flow and stopped at a cap (a chunked answer has no Content-Length to trust), and the
whole download has a deadline (a per-read timeout alone lets a slow drip run for hours).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import httpcore
import httpx

from aai_mcp.caller_input import ToolInputError
from aai_mcp.mcp_server.handlers.hashed_uploads import upload_hashed
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream import UpstreamError
from aai_mcp.upstream.errors import RETRYABLE_STATUSES, ErrorKind
from aai_mcp.upstream.netguard import PinnedBackend, PinnedTransport, Pins

# 256 KiB, not 1 MiB: the server's peak RSS during a 1 GiB upload drops by ~3 MB (bench/upload.py).
CHUNK_BYTES = 256 * 1024
MAX_REDIRECTS = 5
# One message for every way a download can break: which one it was would tell a caller whether a
# port is open, whether a host answers, or how far a server got.
DOWNLOAD_FAILED = (
    "Downloading the URL failed: its server could not be reached, did not answer in time or broke off, "
    "so nothing was uploaded. A retry may help."
)


T = TypeVar("T")


def dialer() -> httpcore.AsyncNetworkBackend:
    """How pinned addresses are dialled (tests swap it to keep traffic on loopback)."""
    return httpcore.AnyIOBackend()


async def relay_url(call: ToolCall, url: str) -> tuple[dict[str, Any], int]:
    """Stream `url` into AssemblyAI's /v2/upload: (upload's answer, bytes relayed)."""

    async def relay(response: httpx.Response) -> tuple[dict[str, Any], int]:
        return await _relay(call, response)

    return await guarded_download(call, url, relay)


async def download_bytes(call: ToolCall, url: str, cap: int) -> bytes:
    """The whole file at `url`, fetched under the same guard, deadline and redirect rules as
    upload_file(url), for APIs that take bytes and no URL (Sync, Dictation); more than `cap` bytes stop
    the download with an error."""

    async def collect(response: httpx.Response) -> bytes:
        check_status(response)
        _check_declared_size(response, cap, "the cap for this call")
        pieces = [chunk async for chunk in _capped(response, cap, "the cap for this call")]
        return b"".join(pieces)

    return await guarded_download(call, url, collect)


async def guarded_download(call: ToolCall, url: str, consume: Callable[[httpx.Response], Awaitable[T]]) -> T:
    """`consume(response)` of `url`'s final answer, every hop checked and pinned, within the deadline."""
    deadline = call.settings.upload_download_deadline_seconds
    with anyio.move_on_after(deadline):
        return await _fetch(call, url, consume)
    raise UpstreamError(
        message=f"Downloading the URL took longer than {deadline:g} s (the download deadline); "
        "it was stopped and nothing was uploaded.",
        kind=ErrorKind.DOWNLOAD_FAILED,
    )


async def _fetch(call: ToolCall, url: str, consume: Callable[[httpx.Response], Awaitable[T]]) -> T:
    settings = call.settings
    pins = Pins(settings.upload_allow_private_urls)
    timeout = httpx.Timeout(settings.upload_timeout_seconds, connect=settings.connect_timeout_seconds)
    await pins.check(url)  # a refused URL costs no TLS context (checking again below is free)
    # Loading the CA bundle takes ~0.2 s of disk and CPU: in a worker thread, not on the loop.
    tls = await anyio.to_thread.run_sync(httpx.create_ssl_context)
    # identity encoding: the bytes relayed are the file itself and Content-Length stays true.
    async with httpx.AsyncClient(
        transport=PinnedTransport(PinnedBackend(pins, dialer()), tls),
        timeout=timeout,
        follow_redirects=False,
        headers={"Accept-Encoding": "identity"},
        trust_env=False,
    ) as fetcher:
        for _ in range(MAX_REDIRECTS + 1):
            target = await pins.check(url)  # every hop: checked and pinned before it is requested
            with download_errors():
                async with fetcher.stream("GET", target) as response:
                    if response.is_redirect:
                        url = redirect_target(target, response.headers["location"])
                        continue
                    return await consume(response)
    raise UpstreamError(
        f"Downloading the URL failed: more than {MAX_REDIRECTS} redirects; not followed further.",
        kind=ErrorKind.DOWNLOAD_REJECTED,
    )


def redirect_target(current: httpx.URL, location: str) -> str:
    """Where a redirect leads, joined by httpx's parser: it already refused an unparsable Location
    (RemoteProtocolError), while urljoin raised ValueError on some it accepts (`//[`), escaping the
    tool-error path."""
    return str(current.join(location))


@contextmanager
def download_errors() -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError:
        raise UpstreamError(message=DOWNLOAD_FAILED, kind=ErrorKind.DOWNLOAD_FAILED) from None


def check_status(response: httpx.Response) -> None:
    if response.status_code != 200:
        status = response.status_code
        retry = status in RETRYABLE_STATUSES
        raise UpstreamError(
            f"Downloading the URL failed with HTTP {status}." + (" A retry may help." if retry else ""),
            kind=ErrorKind.DOWNLOAD_FAILED if retry else ErrorKind.DOWNLOAD_REJECTED,
        )


def _check_declared_size(response: httpx.Response, cap: int, cap_name: str) -> int | None:
    length = response.headers.get("content-length")
    # isascii: "²".isdigit() is true; 18 digits: int() of a very long string raises (and is no size).
    size = int(length) if length and length.isascii() and length.isdigit() and len(length) < 19 else None
    if size is not None and size > cap:
        raise ToolInputError(f"The URL's file is {size} bytes; the limit is {cap} ({cap_name}).")
    return size


async def _capped(response: httpx.Response, cap: int, cap_name: str) -> AsyncIterator[bytes]:
    counted = 0
    # Converted here: upload() would report a TransportError as AssemblyAI's failure.
    with download_errors():
        async for chunk in response.aiter_raw(CHUNK_BYTES):
            counted += len(chunk)
            if counted > cap:
                raise ToolInputError(
                    f"The URL's file is larger than {cap} bytes ({cap_name}); "
                    "the download was stopped and nothing was sent on."
                )
            yield chunk


async def _relay(call: ToolCall, response: httpx.Response) -> tuple[dict[str, Any], int]:
    check_status(response)
    cap = call.settings.upload_max_download_bytes
    size = _check_declared_size(response, cap, "upload_max_download_bytes")
    counted = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal counted
        async for chunk in _capped(response, cap, "upload_max_download_bytes"):
            counted += len(chunk)
            yield chunk

    answer = await upload_hashed(call, chunks(), size)
    return answer, counted
