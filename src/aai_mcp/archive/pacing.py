"""Pacing the archive's calls under AssemblyAI's rate limit: at most a set rate, a pause when the
answers say the window is spent, and after a 429 a wait of exactly its Retry-After before the same
call again. Never a retry without a wait."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from aai_mcp.catalog.model import HostName, HttpMethod
from aai_mcp.upstream.client import Upstream
from aai_mcp.upstream.errors import UpstreamError
from aai_mcp.upstream.ratelimit import normalized_rate_limit

# A 429 that names no wait (no Retry-After, no reset): back off from this, doubling, to the cap.
UNNAMED_WAIT_SECONDS = 5.0
MAX_UNNAMED_WAIT_SECONDS = 120.0
MAX_RATE_LIMITED_TRIES = 8

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Pacer:
    """Spaces calls `1 / max_per_second` apart and waits out rate limits. `sleep` and `clock` are
    injectable so tests see every wait without spending it."""

    max_per_second: float
    sleep: Sleep = anyio.sleep
    clock: Callable[[], float] = time.monotonic
    waits: list[float] = field(default_factory=list)
    """Every rate-limit wait, in order (seconds): what the run reports and tests check."""
    _next_at: float = 0.0
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def turn(self) -> None:
        """Wait for this call's slot."""
        async with self._lock:
            delay = self._next_at - self.clock()
            if delay > 0:
                await self.sleep(delay)
            self._next_at = max(self._next_at, self.clock()) + 1.0 / self.max_per_second

    async def hold(self, seconds: float) -> None:
        """Nobody calls for `seconds` (every caller's next turn comes after it)."""
        self.waits.append(seconds)
        async with self._lock:
            self._next_at = max(self._next_at, self.clock() + seconds)

    def observe(self, headers: httpx.Headers) -> float | None:
        """The wait the answer's rate-limit headers ask for before the next call (window spent)."""
        limits = normalized_rate_limit(headers)
        if limits.get("ratelimit-remaining") == 0 and limits.get("ratelimit-reset"):
            return float(limits["ratelimit-reset"])
        return None


async def paced_get(
    upstream: Upstream,
    pacer: Pacer,
    path: str,
    params: Mapping[str, str] | None = None,
    host: HostName = "api",
) -> httpx.Response:
    """GET `path` in turn; a 429 is waited out for its Retry-After and asked again (up to a limit)."""
    return await paced_request(upstream, pacer, "GET", path, params=params, host=host)


async def paced_request(
    upstream: Upstream,
    pacer: Pacer,
    method: HttpMethod,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    host: HostName = "api",
    json_body: Any = None,
) -> httpx.Response:
    """`method` `path` in turn, waiting out 429s as paced_get does (`archive extract` POSTs to the
    LLM Gateway this way)."""
    unnamed = UNNAMED_WAIT_SECONDS
    for attempt in range(MAX_RATE_LIMITED_TRIES):
        await pacer.turn()
        try:
            response = await upstream.request(host, method, path, params=params, json_body=json_body)
        except UpstreamError as exc:
            if exc.status != 429 or attempt == MAX_RATE_LIMITED_TRIES - 1:
                raise
            named = exc.rate_limit.get("retry_after_seconds", exc.rate_limit.get("ratelimit-reset"))
            wait = float(named) if named is not None else unnamed
            if named is None:
                unnamed = min(unnamed * 2, MAX_UNNAMED_WAIT_SECONDS)
            await pacer.hold(wait)
            continue
        spent = pacer.observe(response.headers)
        if spent is not None:
            await pacer.hold(spent)
        return response
    raise AssertionError("unreachable")
