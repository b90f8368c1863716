"""upload_file: local path, remote URL or base64, always streamed to /v2/upload as raw bytes."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import anyio
import httpx

from aai_mcp.tools.call import ToolCall, ToolInputError
from aai_mcp.tools.netguard import check_peer, check_url

# 256 KiB, not 1 MiB: the server's peak RSS during a 1 GiB upload drops by ~3 MB (bench/upload.py).
CHUNK_BYTES = 256 * 1024
UPSTREAM_LIMIT_BYTES = 2_200_000_000
MAX_REDIRECTS = 5
SOURCES = ("path", "url", "data_base64")


async def upload(call: ToolCall) -> dict[str, Any]:
    source, value = one_source(call, SOURCES)
    return await upload_from(call, source, value)


def one_source(call: ToolCall, names: tuple[str, ...]) -> tuple[str, str]:
    """The one audio source the caller gave, or an error that says what to give."""
    given = [name for name in names if call.args.get(name) is not None]
    if len(given) != 1:
        raise ToolInputError(
            f"Give exactly one of {', '.join(names)} (got {', '.join(given) or 'none'}). "
            "Public URLs need no upload: pass them to create_transcript as audio_url."
        )
    return given[0], str(call.args[given[0]])


async def upload_from(call: ToolCall, source: str, value: str) -> dict[str, Any]:
    if source == "path":
        return await _upload_path(call, value)
    if source == "url":
        return await _upload_url(call, value)
    return await _upload_base64(call, value)


def _result(answer: dict[str, Any], size: int) -> dict[str, Any]:
    upload_url = str(answer["upload_url"])
    return {
        "upload_url": upload_url,
        "size_bytes": size,
        "next_step": f"Call create_transcript with audio_url={upload_url} to transcribe it.",
    }


def allowed_file(raw: str, roots: list[Path]) -> Path:
    if not roots:
        raise ToolInputError(
            "upload_file(path) is disabled: this server has no upload roots (set AAI_MCP_UPLOAD_ROOTS "
            "or --upload-roots). Use url or data_base64 instead."
        )
    if "\x00" in raw:
        raise ToolInputError("Refused: the path contains a NUL character.")
    # realpath resolves symlinks and "..", so a link inside a root that points outside is refused.
    real = Path(os.path.realpath(Path(raw).expanduser()))
    for root in roots:
        if real.is_relative_to(os.path.realpath(root)):
            if not real.is_file():
                raise ToolInputError(f"No readable file at {raw!r}.")
            return real
    shown = ", ".join(str(root) for root in roots)
    raise ToolInputError(f"Refused: {raw!r} is outside the allowed upload roots ({shown}).")


async def _upload_path(call: ToolCall, raw: str) -> dict[str, Any]:
    path = allowed_file(raw, call.settings.upload_roots or [])
    size = path.stat().st_size
    if size == 0:
        raise ToolInputError(f"{raw!r} is empty.")
    if size > UPSTREAM_LIMIT_BYTES:
        raise ToolInputError(f"{raw!r} is {size} bytes; AssemblyAI accepts at most 2.2 GB per upload.")
    return _result(await call.upstream.upload(_file_chunks(path), size=size), size)


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        while chunk := await handle.read(CHUNK_BYTES):
            yield chunk


async def _upload_base64(call: ToolCall, data: str) -> dict[str, Any]:
    cap = call.settings.upload_max_base64_bytes
    if len(data) // 4 * 3 > cap + 3:
        raise ToolInputError(
            f"data_base64 decodes to about {len(data) // 4 * 3} bytes; the limit is {cap}. "
            "Send larger files with path or url."
        )
    try:
        audio = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ToolInputError("data_base64 is not valid base64.") from None
    if not audio or len(audio) > cap:
        raise ToolInputError(f"data_base64 must decode to 1..{cap} bytes, not {len(audio)}.")

    async def one_chunk() -> AsyncIterator[bytes]:
        yield audio

    return _result(await call.upstream.upload(one_chunk(), size=len(audio)), len(audio))


async def _upload_url(call: ToolCall, url: str) -> dict[str, Any]:
    allow_private = call.settings.upload_allow_private_urls
    timeout = httpx.Timeout(
        call.settings.upload_timeout_seconds, connect=call.settings.connect_timeout_seconds
    )
    # identity encoding: the bytes relayed are the file itself and Content-Length stays true.
    headers = {"Accept-Encoding": "identity"}
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, headers=headers) as fetcher:
        for _ in range(MAX_REDIRECTS + 1):
            await check_url(url, allow_private)
            async with fetcher.stream("GET", url) as response:
                check_peer(_peer(response), allow_private)
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    continue
                return await _relay(call, url, response)
    raise ToolInputError(f"More than {MAX_REDIRECTS} redirects; not followed further.")


async def _relay(call: ToolCall, url: str, response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise ToolInputError(f"Downloading {url} failed with HTTP {response.status_code}.")
    length = response.headers.get("content-length")
    size = int(length) if length and length.isdigit() else None
    if size is not None and size > UPSTREAM_LIMIT_BYTES:
        raise ToolInputError(f"{url} is {size} bytes; AssemblyAI accepts at most 2.2 GB per upload.")
    counted = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal counted
        try:
            async for chunk in response.aiter_raw(CHUNK_BYTES):
                counted += len(chunk)
                yield chunk
        except httpx.TransportError as exc:
            # Converted here: upload() would report any TransportError as AssemblyAI's failure.
            raise ToolInputError(f"Downloading {url} failed mid-way ({type(exc).__name__}).") from None

    return _result(await call.upstream.upload(chunks(), size=size), counted)


def _peer(response: httpx.Response) -> object:
    stream = response.extensions.get("network_stream")
    return stream.get_extra_info("server_addr") if stream is not None else None
