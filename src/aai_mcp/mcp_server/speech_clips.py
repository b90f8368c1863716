"""Synthesized audio too large for a tool result, held briefly as MCP resources (`speech://clip/<id>`).

Why a resource and not a gateway link: a link needs a public URL and a store table, and a stdio server
has neither; every MCP client can read a resource. Clips are kept in the shared state's blob store for
CLIP_TTL_SECONDS (in this process, within its byte bound, or in Redis, where every instance behind a
balancer reads them), and only the caller that made one can read it: anyone else, an unknown id and an
expired clip get the same answer, so ids cannot be probed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable

import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from aai_mcp.access.principal import Principal
from aai_mcp.state.shared import SharedState

URI_PREFIX = "speech://clip/"
CLIP_TTL_SECONDS = 900.0
GONE = "No such speech clip: it expired (clips last 15 minutes), or it belongs to another caller."
ID_BYTES = 18
ID_LENGTH = len(secrets.token_urlsafe(ID_BYTES))
BLOB_KEY = "speech-clip:"
# A kept clip: the SHA-256 of its owner (no caller's name in shared state), the mime type's length
# (2 bytes), the mime type, then the audio.
DIGEST_BYTES = 32
MIME_LENGTH_BYTES = 2


def clip_owner(principal: Principal) -> str:
    """Who may read a clip: the same principal, calling with the same AssemblyAI key."""
    return f"{principal.id}\n{principal.partition()}"


def is_speech_uri(uri: str) -> bool:
    return uri.startswith(URI_PREFIX)


def owner_digest(owner: str) -> bytes:
    return hashlib.sha256(owner.encode()).digest()


def packed(owner: str, data: bytes, mime_type: str) -> bytes:
    mime = mime_type.encode()
    return owner_digest(owner) + len(mime).to_bytes(MIME_LENGTH_BYTES, "big") + mime + data


def unpacked(blob: bytes) -> tuple[bytes, str, bytes]:
    """(owner digest, mime type, audio) of a kept clip."""
    start = DIGEST_BYTES + MIME_LENGTH_BYTES
    mime_end = start + int.from_bytes(blob[DIGEST_BYTES:start], "big")
    return blob[:DIGEST_BYTES], blob[start:mime_end].decode(), blob[mime_end:]


class SpeechClips:
    def __init__(
        self,
        shared: SharedState,
        clock: Callable[[], float] = time.time,
        ttl_seconds: float = CLIP_TTL_SECONDS,
    ) -> None:
        self._shared = shared
        self._clock = clock
        self._ttl_seconds = ttl_seconds

    async def keep(self, owner: str, data: bytes, mime_type: str) -> tuple[str, float]:
        """Hold `data` for `owner`: (its resource URI, when it expires in unix seconds)."""
        clip_id = secrets.token_urlsafe(ID_BYTES)
        expires_at = self._clock() + self._ttl_seconds
        await self._shared.put_blob(BLOB_KEY + clip_id, packed(owner, data, mime_type), self._ttl_seconds)
        return URI_PREFIX + clip_id, expires_at

    async def read(self, owner: str, uri: str) -> types.ReadResourceResult:
        clip_id = uri.removeprefix(URI_PREFIX)
        # Only ids this class could have made are looked up: a caller's megabyte "id" never reaches Redis.
        blob = await self._shared.get_blob(BLOB_KEY + clip_id) if len(clip_id) == ID_LENGTH else None
        if blob is None:
            raise MCPError(INVALID_PARAMS, GONE)
        digest, mime_type, data = unpacked(blob)
        if not secrets.compare_digest(digest, owner_digest(owner)):
            raise MCPError(INVALID_PARAMS, GONE)
        encoded = base64.b64encode(data).decode("ascii")
        return types.ReadResourceResult(
            contents=[types.BlobResourceContents(uri=uri, mime_type=mime_type, blob=encoded)]
        )
