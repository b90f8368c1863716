"""Revoked token ids followed from the durable store, so a revocation made anywhere (`aai-mcp token
revoke`, another instance) is refused here within a second.

A check never waits for the database: ids are checked in memory, and a background task asks the
store for what was revoked since its cursor every REFRESH_SECONDS (in a worker thread: the engine
is synchronous). Failure policy, like the revocation file's: while the store cannot be read the last
known ids still hold; once no refresh has succeeded for STALE_AFTER_SECONDS every token is refused
(RevocationUnavailable, 503), because a revocation made meanwhile would otherwise go unseen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio

from aai_mcp.access.revocation import RevocationUnavailable
from aai_mcp.state.store import RevokedSince, Store, failure_reason

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 0.5
STALE_AFTER_SECONDS = 10.0


class RevocationFeed:
    """The store's revoked ids, kept current by `follow()`; `jti in feed` works as well."""

    def __init__(
        self,
        store: Store,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        stale_after_seconds: float = STALE_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.stale_after_seconds = stale_after_seconds
        self._clock = clock
        self._ids: frozenset[str] = frozenset()
        self._cursor = 0
        self._fresh_at: float | None = None
        self._problem: str | None = None
        self._refreshed: anyio.Event | None = None

    def __contains__(self, jti: object) -> bool:
        return isinstance(jti, str) and self.contains(jti)

    def contains(self, jti: str) -> bool:
        """Whether `jti` is revoked; RevocationUnavailable when the known ids are too old to trust."""
        problem = self.problem()
        if problem is not None:
            raise RevocationUnavailable(self.store.shown, problem)
        return jti in self._ids

    def problem(self) -> str | None:
        """Why tokens are being refused right now (for /healthz), or None."""
        if self._fresh_at is None:
            return "token revocations have not been read from the store yet"
        if self._clock() - self._fresh_at > self.stale_after_seconds:
            return f"the store could not be read for over {self.stale_after_seconds:g} s (token revocations)"
        return None

    def refresh(self) -> None:
        """One read of what is new, here and now (at start, before serving); never raises."""
        self._apply(self._read(self._cursor))

    async def refresh_soon(self) -> None:
        """One read in a worker thread; wakes whoever was waiting in `refreshed` when it began."""
        waiting, self._refreshed = self._refreshed, None
        # Not abandoned on cancel: shutdown waits for the read in flight, so its connection goes back
        # to the pool before the store closes; the engine bounds how long a read on a dead network lasts.
        self._apply(await anyio.to_thread.run_sync(self._read, self._cursor))
        if waiting is not None:
            waiting.set()

    async def follow(self) -> None:
        """Refresh every `refresh_seconds`, until cancelled."""
        while True:
            await self.refresh_soon()
            await anyio.sleep(self.refresh_seconds)

    async def refreshed(self) -> None:
        """Return after the next refresh ends: one that read the store after this call began."""
        if self._refreshed is None:
            self._refreshed = anyio.Event()
        await self._refreshed.wait()

    def _read(self, cursor: int) -> RevokedSince | str:
        # Imported here: a server without a store (stdio, auth none) never loads SQLAlchemy.
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return self.store.revoked_since(cursor)
        except SQLAlchemyError as exc:
            return failure_reason(exc)

    def _apply(self, result: RevokedSince | str) -> None:
        if isinstance(result, str):
            self._note(result)
            return
        if result.ids:
            self._ids = self._ids | result.ids  # a new set, swapped in: readers never see it half-built
        self._cursor = result.cursor
        self._fresh_at = self._clock()
        self._note(None)

    def _note(self, problem: str | None) -> None:
        if problem == self._problem:
            return
        if problem is None:
            logger.info("token revocations: the store (%s) can be read again", self.store.shown)
        else:
            logger.error(
                "token revocations: cannot read the store (%s): %s; tokens are refused once the last "
                "read is %g s old",
                self.store.shown,
                problem,
                self.stale_after_seconds,
            )
        self._problem = problem
