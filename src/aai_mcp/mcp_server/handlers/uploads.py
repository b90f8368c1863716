"""upload_file: local path, remote URL or base64, always streamed to /v2/upload as raw bytes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread

from aai_mcp.caller_input import ToolInputError, quoted
from aai_mcp.mcp_server.handlers.downloads import CHUNK_BYTES, relay_url
from aai_mcp.mcp_server.handlers.hashed_uploads import upload_hashed
from aai_mcp.mcp_server.handlers.safe_open import open_beneath_roots
from aai_mcp.mcp_server.runtime.tool_call import ToolCall

UPSTREAM_LIMIT_BYTES = 2_200_000_000
SOURCES = ("path", "url", "data_base64")
UPLOAD_CALLS = frozenset({"upload"})


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


async def _upload_path(call: ToolCall, raw: str) -> dict[str, Any]:
    roots = call.settings.upload_roots or []
    if not roots:
        raise ToolInputError(
            "upload_file(path) is disabled: this server has no upload roots (set AAI_MCP_UPLOAD_ROOTS "
            "or --upload-roots). Use url or data_base64 instead."
        )
    # Resolving, opening and reading block on the filesystem (a slow disk, NFS): never on the loop.
    opened = await anyio.to_thread.run_sync(open_beneath_roots, raw, roots)
    async with anyio.wrap_file(opened.handle) as handle:
        if opened.size == 0:
            raise ToolInputError(f"{quoted(raw)} is empty.")
        if opened.size > UPSTREAM_LIMIT_BYTES:
            raise ToolInputError(
                f"{quoted(raw)} is {opened.size} bytes; AssemblyAI accepts at most 2.2 GB per upload."
            )
        answer = await upload_hashed(call, _file_chunks(handle, opened.size), opened.size)
    return _result(answer, opened.size)


async def _file_chunks(handle: anyio.AsyncFile[bytes], size: int) -> AsyncIterator[bytes]:
    # Never more than fstat said: a file growing meanwhile would overrun the Content-Length sent.
    remaining = size
    try:
        while remaining > 0 and (chunk := await handle.read(min(CHUNK_BYTES, remaining))):
            remaining -= len(chunk)
            yield chunk
    except OSError:
        # Converted here: upload() only knows transport errors, and the path stays out of the text.
        raise ToolInputError("Reading the file failed mid-way; nothing was uploaded.") from None
    if remaining > 0:
        # Shorter than the Content-Length already sent: a success here would claim bytes never sent.
        raise ToolInputError("The file changed while it was read (it got shorter); nothing was uploaded.")


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

    return _result(await upload_hashed(call, one_chunk(), len(audio)), len(audio))


async def _upload_url(call: ToolCall, url: str) -> dict[str, Any]:
    answer, size = await relay_url(call, url)
    return _result(answer, size)
