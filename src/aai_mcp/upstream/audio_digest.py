"""The SHA-256 of audio as it streams to /v2/upload: each chunk is hashed as it passes, so hashing
keeps no copy of the audio and reads it once (the upload's own read)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator


class AudioDigest:
    """Hashes and counts the chunks passed through `through`."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self.size = 0

    async def through(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self._sha256.update(chunk)
            self.size += len(chunk)
            yield chunk

    @property
    def value(self) -> str:
        """As the archive keeps it: "sha256:" and the hex digest."""
        return f"sha256:{self._sha256.hexdigest()}"
