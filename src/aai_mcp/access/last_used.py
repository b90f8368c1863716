"""When each issued token was last used, written to the store cheaply: a request only notes the token
id in memory (at most once a resolution per token), and a background task writes what was noted in
one UPDATE every FLUSH_SECONDS, in a worker thread (the engine is synchronous). A write that fails is
logged and dropped: last use is for the operator's listing, never for deciding access."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:  # it loads SQLAlchemy, which a server without a store never needs
    from aai_mcp.state.issued_tokens import IssuedTokens

logger = logging.getLogger(__name__)

# Last use is written at most this often per token, by every instance together: a busy token costs
# one UPDATE a minute, not one per request.
LAST_USED_RESOLUTION_SECONDS = 60.0

FLUSH_SECONDS = 5.0
# Enough distinct tokens for any real deployment; past it the oldest notes are forgotten (a token
# then costs one more write), so a flood of distinct valid tokens cannot grow memory without bound.
MAX_REMEMBERED = 10_000


class LastUsed:
    """Notes token use (`note`) and writes it to the issued-token records (`flush`, `follow`)."""

    def __init__(
        self,
        records: IssuedTokens,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.records = records
        self.flush_seconds = flush_seconds
        self._clock = clock
        self._noted: dict[str, float] = {}
        self._pending: dict[str, float] = {}

    def note(self, token_id: str) -> None:
        """`token_id` was used now; costs a dict lookup unless a resolution has passed since its last note."""
        now = self._clock()
        if now - self._noted.get(token_id, float("-inf")) < LAST_USED_RESOLUTION_SECONDS:
            return
        if len(self._noted) >= MAX_REMEMBERED:
            self._noted.clear()
        self._noted[token_id] = now
        self._pending[token_id] = now

    async def flush(self) -> None:
        """Write what was noted since the last flush (before a listing, so it shows this instance's use)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        # One UPDATE for all of them at the latest time noted: within a resolution of the truth.
        at = max(pending.values())
        from sqlalchemy.exc import SQLAlchemyError

        from aai_mcp.state.store import failure_reason

        try:
            await anyio.to_thread.run_sync(self.records.mark_used, list(pending), at)
        except SQLAlchemyError as exc:  # the store is away: the listing is a little stale, access unaffected
            reason = failure_reason(exc)
            logger.warning("could not record when %d token(s) were last used: %s", len(pending), reason)

    async def follow(self) -> None:
        """Flush every `flush_seconds`, until cancelled; then once more, so a stop loses no use noted
        (shielded: the engine bounds how long a write to a dead database lasts)."""
        try:
            while True:
                await anyio.sleep(self.flush_seconds)
                await self.flush()
        finally:
            with anyio.CancelScope(shield=True):
                await self.flush()
