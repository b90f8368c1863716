"""`--every`: a round now, then one each interval after the previous one started, until the process is
interrupted. A round that overruns its interval is followed at once by the next (never two at once).
`sleep` and `clock` are injectable so tests drive the schedule without waiting."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio

from aai_mcp.archive.pacing import Sleep


async def every(
    interval: float,
    round_: Callable[[int], Awaitable[object]],
    *,
    sleep: Sleep = anyio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rounds: int | None = None,
) -> None:
    """Call `round_(1)`, `round_(2)`, ... `interval` seconds apart (start to start); forever unless
    `rounds` says how many."""
    number = 0
    while rounds is None or number < rounds:
        number += 1
        started = clock()
        await round_(number)
        if rounds is not None and number >= rounds:
            return
        await sleep(max(0.0, started + interval - clock()))
