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
from aai_mcp.state.shared import Hold, SharedState
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


@dataclass(frozen=True)
class Admission:
    """A call let through: the minute's state for its answer's headers, and the place it holds among
    the team's jobs while it creates one (given back with `QuotaGate.release`)."""

    rate: RateLimit | None = None
    job_place: Hold | None = None


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

    async def admit(self, team: str, effect: str) -> Admission:
        """OverQuota when `team` may not make a call of `effect` now. Checks that only read come
        first; the minute's count and a job place are taken last."""
        quota = self.quotas.of(team)
        running = None
        if effect == "transcription":
            running = await self._jobs(team, quota)
            await self._audio(team, quota)
        if effect == "llm":
            await self._llm_tokens(team, quota)
        rate = await self._rate(team, quota)
        if running is None or quota.jobs is None:
            return Admission(rate)
        return Admission(rate, await self._job_place(team, quota.jobs, running))

    async def release(self, admission: Admission) -> None:
        if admission.job_place is not None:
            await self.shared.release(admission.job_place)

    async def _rate(self, team: str, quota: TeamQuota) -> RateLimit | None:
        if quota.rpm is None:
            return None
        hit = await self.shared.count_hit(f"team-rpm:{team}", RATE_WINDOW_SECONDS)
        state = RateLimit("rpm", quota.rpm, quota.rpm - hit.count, hit.reset_seconds)
        if hit.count > quota.rpm:
            raise OverQuota(team, state, f"team {team!r} made its {quota.rpm} requests of this minute")
        return state

    async def _jobs(self, team: str, quota: TeamQuota) -> int | None:
        """Jobs the team has open (None: no limit, or the store cannot tell)."""
        if quota.jobs is None:
            return None
        running = await self.meter.open_jobs(team)
        if running is not None and running >= quota.jobs:
            raise _over_jobs(team, quota.jobs, f"has {running} transcription jobs running")
        return running

    async def _job_place(self, team: str, jobs: int, running: int) -> Hold:
        """One of the places left beside the open jobs, held while the job is being created: two
        creations at once (on any instance, with Redis) cannot both take the last one."""
        place = await self.shared.try_hold(f"team-jobs:{team}", jobs - running)
        if place is None:
            raise _over_jobs(team, jobs, "is creating or running as many transcription jobs as it may")
        return place

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


def _over_jobs(team: str, jobs: int, what: str) -> OverQuota:
    state = RateLimit("jobs", jobs, 0, JOBS_RETRY_SECONDS)
    message = f"team {team!r} {what} (its limit is {jobs}): try again when one has finished"
    return OverQuota(team, state, message)


def month_start(now: float) -> float:
    """The start of `now`'s calendar month, UTC."""
    day = datetime.fromtimestamp(now, UTC)
    return day.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def next_month_start(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()
