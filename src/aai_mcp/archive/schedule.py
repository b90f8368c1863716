"""`--every`: a round now, then one each interval after the previous one started, until the process is
interrupted. A round that overruns its interval is followed at once by the next (never two at once).
`sleep` and `clock` are injectable so tests drive the schedule without waiting."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable

import anyio

from aai_mcp.archive.pacing import Sleep

_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_UNIT_SECONDS = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0}


def interval_seconds(text: str) -> float:
    """`1h`, `15m`, `30s`, `1h30m`, `1d` -> seconds; ValueError for anything else or zero."""
    compact = text.strip().lower()
    parts = _PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"not a duration like 30s, 15m, 1h or 1h30m: {text!r}")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError("the interval must be more than 0")
    return seconds


async def every(
    interval: float,
    round_: Callable[[int], Awaitable[None]],
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
