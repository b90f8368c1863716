"""Caps on operator sign-in attempts at the consent page, so a password cannot be guessed at speed:
per client address and for the whole server, in fixed windows counted in shared state (Redis when
configured), so every instance counts into the same totals. Every attempt counts, successes too: the
cap is checked before the password is, so a right guess during a lock-out gets nothing either."""

from __future__ import annotations

from dataclasses import dataclass

from aai_mcp.state.shared import SharedState

WINDOW_SECONDS = 900.0
PER_ADDRESS = 5
OVERALL = 30


@dataclass(frozen=True)
class Lockout:
    """Too many attempts: how long until the window ends."""

    retry_after: int
    overall: bool


class SignInAttempts:
    def __init__(
        self,
        shared: SharedState,
        *,
        per_address: int = PER_ADDRESS,
        overall: int = OVERALL,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        self.shared = shared
        self.per_address = per_address
        self.overall = overall
        self.window_seconds = window_seconds

    async def attempt(self, address: str) -> Lockout | None:
        """Count one attempt from `address`; a Lockout when it is over a cap (then do not check it)."""
        mine = await self.shared.count_hit(f"oauth-sign-in:{address}", self.window_seconds)
        if mine.count > self.per_address:
            return Lockout(_seconds(mine.reset_seconds), overall=False)
        everyone = await self.shared.count_hit("oauth-sign-in:*", self.window_seconds)
        if everyone.count > self.overall:
            return Lockout(_seconds(everyone.reset_seconds), overall=True)
        return None


def _seconds(reset: float) -> int:
    return max(1, int(reset + 0.999))
