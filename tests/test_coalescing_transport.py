"""Response bytes written in one event-loop turn leave in one socket write."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aai_mcp.transports.coalescing import CoalescingTransport

pytestmark = pytest.mark.anyio


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> Any:
        return f"extra:{name}"


def wrapped() -> tuple[CoalescingTransport, RecordingTransport]:
    inner = RecordingTransport()
    return CoalescingTransport(inner, asyncio.get_running_loop()), inner  # type: ignore[arg-type]


async def test_writes_of_one_turn_are_sent_once_at_its_end() -> None:
    transport, inner = wrapped()
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(memoryview(b"body"))
    assert inner.writes == [] and transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody")
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert inner.writes[1:] == [b"next"]


async def test_close_sends_what_is_buffered_first_and_abort_drops_it() -> None:
    transport, inner = wrapped()
    transport.write(b"last")
    transport.close()
    assert inner.writes == [b"last"] and inner.closed
    transport, inner = wrapped()
    transport.write(b"unsent")
    transport.abort()
    await asyncio.sleep(0)
    assert inner.writes == [] and inner.aborted


async def test_everything_else_passes_through() -> None:
    transport, inner = wrapped()
    assert transport.get_extra_info("socket") == "extra:socket"
    inner.closed = True
    transport.write(b"late")
    await asyncio.sleep(0)
    assert inner.writes == []  # never written to a transport already closing


async def test_a_write_that_raises_leaves_the_connection_writable() -> None:
    transport, inner = wrapped()
    failing = [True]

    def write(data: bytes) -> None:
        if failing.pop(0) if failing else False:
            raise RuntimeError("the socket said no")
        inner.writes.append(data)

    inner.write = write  # type: ignore[method-assign]
    transport.write(b"lost ")
    with pytest.raises(RuntimeError):
        transport._flush()
    transport.write(b"next")
    await asyncio.sleep(0)  # the turn ends: the flush scheduled by this write runs
    assert inner.writes == [b"next"] and transport.get_write_buffer_size() == 0
