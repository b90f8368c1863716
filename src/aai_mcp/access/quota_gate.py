"""The team quota check every proxied request passes before it is forwarded: requests per minute
(counted in shared state, so across instances), open transcription jobs, and this calendar month's
audio hours and LLM tokens (both from the usage in the store).

Each limit is reported in one unit, the one RateLimit-* headers carry as whole numbers: requests,
jobs, seconds of audio, tokens. A store that cannot be read lets the request through (logged by the
meter): a quota is not worth an outage.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aai_mcp.access.team_quotas import TeamQuota, TeamQuotas
from aai_mcp.state.shared import SharedState
from aai_mcp.upstream.usage import UsageMeter

RATE_WINDOW_SECONDS = 60.0
# A team at its job limit may try again after this: jobs finish when someone reads them finished.
JOBS_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class RateLimit:
    """One quota's state, as the RateLimit-* headers say it."""

    quota: str
    limit: int
    remaining: int
    reset_seconds: float

    def headers(self) -> dict[str, str]:
        reset = str(max(1, math.ceil(self.reset_seconds)))
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": reset,
        }


class OverQuota(Exception):
    """The team is over one of its quotas: answer 429 with these headers and Retry-After."""

    def __init__(self, team: str, state: RateLimit, message: str) -> None:
        super().__init__(message)
        self.team, self.state, self.message = team, state, message


class QuotaGate:
    def __init__(
        self,
        quotas: TeamQuotas,
        shared: SharedState,
        meter: UsageMeter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.quotas = quotas
        self.shared = shared
        self.meter = meter
        self.clock = clock

    async def admit(self, team: str, effect: str) -> RateLimit | None:
        """OverQuota when `team` may not make a call of `effect` now; else the per-minute rate's
        state (for the answer's RateLimit-* headers) when the team has one."""
        quota = self.quotas.of(team)
        if effect == "transcription":
            await self._jobs(team, quota)
            await self._audio(team, quota)
        if effect == "llm":
            await self._llm_tokens(team, quota)
        return await self._rate(team, quota)

    async def _rate(self, team: str, quota: TeamQuota) -> RateLimit | None:
        if quota.rpm is None:
            return None
        hit = await self.shared.count_hit(f"team-rpm:{team}", RATE_WINDOW_SECONDS)
        state = RateLimit("rpm", quota.rpm, quota.rpm - hit.count, hit.reset_seconds)
        if hit.count > quota.rpm:
            raise OverQuota(team, state, f"team {team!r} made its {quota.rpm} requests of this minute")
        return state

    async def _jobs(self, team: str, quota: TeamQuota) -> None:
        if quota.jobs is None:
            return
        running = await self.meter.open_jobs(team)
        if running is not None and running >= quota.jobs:
            state = RateLimit("jobs", quota.jobs, 0, JOBS_RETRY_SECONDS)
            message = (
                f"team {team!r} has {running} transcription jobs running, its limit is {quota.jobs}: "
                "try again when one has finished"
            )
            raise OverQuota(team, state, message)

    async def _audio(self, team: str, quota: TeamQuota) -> None:
        if quota.audio_hours is None:
            return
        used = await self.meter.totals_since(team, month_start(self.clock()))
        limit = int(quota.audio_hours * 3600)
        if used is not None and used.audio_seconds >= limit:
            state = RateLimit("audio_hours", limit, 0, self._until_next_month())
            message = (
                f"team {team!r} has transcribed its {quota.audio_hours:g} audio hours of this month (UTC)"
            )
            raise OverQuota(team, state, message)

    async def _llm_tokens(self, team: str, quota: TeamQuota) -> None:
        if quota.llm_tokens is None:
            return
        used = await self.meter.totals_since(team, month_start(self.clock()))
        if used is not None and used.llm_tokens >= quota.llm_tokens:
            state = RateLimit("llm_tokens", quota.llm_tokens, 0, self._until_next_month())
            message = f"team {team!r} has used its {quota.llm_tokens} LLM Gateway tokens of this month (UTC)"
            raise OverQuota(team, state, message)

    def _until_next_month(self) -> float:
        now = self.clock()
        return next_month_start(now) - now


def month_start(now: float) -> float:
    """The start of `now`'s calendar month, UTC."""
    day = datetime.fromtimestamp(now, UTC)
    return day.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def next_month_start(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()
