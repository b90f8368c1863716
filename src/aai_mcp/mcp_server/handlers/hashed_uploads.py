"""Every upload_file path (and transcribe's upload) sends its bytes here: with an archive they are
hashed on the way to /v2/upload and the upload URL's audio hash is remembered, so the transcript made
from it is archived with the hash and the duplicates report finds the same audio sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

import anyio.to_thread

from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream.audio_digest import AudioDigest


async def upload_hashed(call: ToolCall, chunks: AsyncIterable[bytes], size: int | None) -> dict[str, Any]:
    """Upstream's answer to the upload of `chunks` (its upload_url), the hash recorded when there is
    an archive."""
    archive = call.archive
    if archive is None:
        # Nothing would keep the hash: not computed (0.8 s of CPU per GiB on the upload's loop).
        return await call.upstream.upload(call.spec.call("upload"), chunks, size)
    digest = AudioDigest()
    answer = await call.upstream.upload(call.spec.call("upload"), digest.through(chunks), size)
    upload_url = str(answer["upload_url"])
    # A database write: in a worker thread, never on the event loop.
    await anyio.to_thread.run_sync(archive.record_upload, upload_url, digest.value, digest.size)
    return answer
