"""One request on an account's key pool, for every front door (the proxy and the MCP tools): the key
that made the resource it follows up (pinned), else the least-loaded usable one; a 429 cools the key, a
401/403 takes it out; a refused request (upstream did not process it) goes out again with another key
only when it is not pinned and its body can be sent again (never an upload). NoUsableKey when no key
may be used: the front door says so in its own words (the proxy's 503, a tool's `no_usable_key`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from aai_mcp.access.accounts import PoolKey
from aai_mcp.upstream.affinity import made_resources
from aai_mcp.upstream.key_pool import Choice, KeyPool, NoUsableKey
from aai_mcp.upstream.ratelimit import normalized_rate_limit

# Upstream refused these without processing the request: another key may be asked the same.
NOT_PROCESSED = frozenset({401, 403, 429})
log = logging.getLogger("aai_mcp.key_pool")

Attempt = Callable[[PoolKey], Awaitable[httpx.Response]]
"""Sends the request once with a key; its answer may be left unread (streamed) by the caller."""


@dataclass(frozen=True)
class Sent:
    """The answer to pass on, and the key that got it (which made whatever the answer names)."""

    choice: Choice
    response: httpx.Response


@dataclass(frozen=True)
class PooledKeys:
    """An account's view of the key pool: what a front door holds to send that account's requests."""

    pool: KeyPool
    account: str

    async def send(self, resource: str | None, replayable: bool, attempt: Attempt) -> Sent:
        """`attempt` with the right key, again with another while refused and allowed to go again.

        `resource`: the upload URL or transcript id the request follows up (None: new work).
        `replayable`: the body can be sent again (none, or kept whole; never a streamed upload)."""
        tried: set[str] = set()
        while True:
            choice = await self._choose(resource, frozenset(tried))
            with self.pool.using(choice.key):
                response = await attempt(choice.key)
            if response.status_code not in NOT_PROCESSED:
                return Sent(choice, response)
            await self._mark(choice.key, response)
            if not replayable or choice.pinned:
                return Sent(choice, response)
            await response.aclose()
            tried.add(choice.key.name)
            self.pool.event(choice.key, "failover")
            log.info("key pool: %s refused the request; trying another key", choice.key.name)

    async def _choose(self, resource: str | None, tried: frozenset[str]) -> Choice:
        try:
            return await self.pool.choose(self.account, resource, tried)
        except NoUsableKey:
            self.pool.event(None, "no_usable_key")
            raise

    async def _mark(self, key: PoolKey, response: httpx.Response) -> None:
        if response.status_code == 429:
            # A 429 of the LLM Gateway says when in X-RateLimit-Reset (no Retry-After): read either.
            await self.pool.rate_limited(
                key, normalized_rate_limit(response.headers).get("retry_after_seconds")
            )
        else:
            await self.pool.refused(key, response.status_code)

    async def remember(self, answer: bytes, key: PoolKey) -> None:
        """The resources an answer names (an upload URL, a transcript, a list page) stay on `key`."""
        await self.pool.remember(made_resources(answer), key)
