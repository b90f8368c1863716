"""One socket write per event-loop turn for each connection's response bytes.

uvicorn writes a response's head, each body chunk and the chunked-encoding end separately, one
`send` syscall each; on this project's machines (virtualized, loopback) a send costs as much as the
rest of the request's Python (bench/PROFILE.md: 30 % of the gateway's CPU samples sat in uvicorn's
`transport.write`). Writes made in the same turn of the loop (a JSON answer's head and body, an SSE
event and the stream's end when both are ready) are joined and sent once, at the end of that turn:
before the loop next waits for I/O, so no byte is held back for longer than the code that produced it
runs.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport:
    """Wraps a connection's transport: `write` buffers until the loop's next turn, everything else
    passes through (closing flushes first; abort drops what is buffered, as it drops the kernel's)."""

    def __init__(self, inner: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._inner = inner
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def _flush(self) -> None:
        # Taken before writing: should the write raise, the next `write` still schedules a flush
        # (it only does when nothing is pending), so the connection is never left wedged.
        pending, self._pending = self._pending, []
        if pending and not self._inner.is_closing():
            self._inner.write(b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._inner.close()

    def abort(self) -> None:
        self._pending.clear()
        self._inner.abort()

    def get_write_buffer_size(self) -> int:
        return self._inner.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
