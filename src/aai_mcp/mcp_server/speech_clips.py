"""Synthesized audio too large for a tool result, held briefly as MCP resources (`speech://clip/<id>`).

Why a resource and not a gateway link: a link needs a public URL and a store table, and a stdio server
has neither; every MCP client can read a resource. Clips live in this process only, for CLIP_TTL_SECONDS,
within MAX_HELD_BYTES (the oldest go first), and only the caller that made one can read it: anyone
else, an unknown id and an expired clip get the same answer, so ids cannot be probed.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from aai_mcp.access.principal import Principal

URI_PREFIX = "speech://clip/"
CLIP_TTL_SECONDS = 900.0
MAX_HELD_BYTES = 64 * 1024 * 1024
GONE = "No such speech clip: it expired (clips last 15 minutes), or it belongs to another caller."


@dataclass(frozen=True)
class Clip:
    owner: str
    data: bytes
    mime_type: str
    expires_at: float  # unix seconds


def clip_owner(principal: Principal) -> str:
    """Who may read a clip: the same principal, calling with the same AssemblyAI key."""
    return f"{principal.id}\n{principal.partition()}"


def is_speech_uri(uri: str) -> bool:
    return uri.startswith(URI_PREFIX)


class SpeechClips:
    def __init__(self, clock: Callable[[], float] = time.time, max_bytes: int = MAX_HELD_BYTES) -> None:
        self._clock = clock
        self._max_bytes = max_bytes
        self._clips: OrderedDict[str, Clip] = OrderedDict()

    def keep(self, owner: str, data: bytes, mime_type: str) -> tuple[str, float]:
        """Hold `data` for `owner`: (its resource URI, when it expires in unix seconds)."""
        self._forget_expired()
        clip = Clip(owner, data, mime_type, self._clock() + CLIP_TTL_SECONDS)
        clip_id = secrets.token_urlsafe(18)
        self._clips[clip_id] = clip
        while sum(len(held.data) for held in self._clips.values()) > self._max_bytes and len(self._clips) > 1:
            self._clips.popitem(last=False)
        return URI_PREFIX + clip_id, clip.expires_at

    def read(self, owner: str, uri: str) -> types.ReadResourceResult:
        self._forget_expired()
        clip = self._clips.get(uri.removeprefix(URI_PREFIX))
        if clip is None or not secrets.compare_digest(clip.owner, owner):
            raise MCPError(INVALID_PARAMS, GONE)
        blob = base64.b64encode(clip.data).decode("ascii")
        return types.ReadResourceResult(
            contents=[types.BlobResourceContents(uri=uri, mime_type=clip.mime_type, blob=blob)]
        )

    def _forget_expired(self) -> None:
        now = self._clock()
        for clip_id in [key for key, clip in self._clips.items() if clip.expires_at <= now]:
            del self._clips[clip_id]
