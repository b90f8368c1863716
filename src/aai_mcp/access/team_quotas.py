"""Per-team quotas (a team is an account): the model, its one configuration syntax, and what the
front doors ask of it.

Syntax, one entry per team, entries separated by `;` (or a list in the config file):

    ci:rpm=120,jobs=4,audio_hours=50,llm_tokens=2000000,stream_seconds=3600

Every limit is optional; a team without an entry, or a limit left out, is not limited.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# Each limit and the kind of number it takes: counts are whole, durations and hours may be fractional.
LIMIT_KINDS: dict[str, type[int] | type[float]] = {
    "rpm": int,
    "jobs": int,
    "audio_hours": float,
    "llm_tokens": int,
    "stream_seconds": float,
}
MAX_TEAM_NAME = 200


class TeamQuotaError(ValueError):
    """A quota entry is wrong; the message names the entry (its number and team) and the limit."""


@dataclass(frozen=True)
class TeamQuota:
    """One team's limits; None: not limited."""

    rpm: int | None = None
    """Proxied requests per minute, counted across every instance."""
    jobs: int | None = None
    """Transcription jobs created and not yet seen finished."""
    audio_hours: float | None = None
    """Hours of audio transcribed per calendar month (UTC)."""
    llm_tokens: int | None = None
    """LLM Gateway tokens (prompt + completion) per calendar month (UTC)."""
    stream_seconds: float | None = None
    """Longest streaming session."""


UNLIMITED = TeamQuota()


class TeamQuotas:
    """The quotas of every configured team."""

    def __init__(self, quotas: dict[str, TeamQuota]) -> None:
        self.quotas = quotas

    def of(self, account: str) -> TeamQuota:
        return self.quotas.get(account, UNLIMITED)

    def stream_session_seconds(self, account: str) -> float | None:
        """The longest streaming session `account` may hold open, None when not limited (for the
        WebSocket proxy: close the session, with the reason, when it runs out)."""
        return self.of(account).stream_seconds


def parse_team_quotas(entries: Iterable[str]) -> dict[str, TeamQuota]:
    """`team:limit=value,...` entries -> quotas by team; TeamQuotaError naming the entry."""
    quotas: dict[str, TeamQuota] = {}
    for number, entry in enumerate(entries, 1):
        team, quota = _entry(number, entry)
        if team in quotas:
            raise TeamQuotaError(f"team quota entry {number}: team {team!r} has an earlier entry")
        quotas[team] = quota
    return quotas


def split_entries(value: str) -> list[str]:
    """Entries as one string (an environment variable, a flag): separated by `;`."""
    return [entry.strip() for entry in value.split(";") if entry.strip()]


def _entry(number: int, entry: str) -> tuple[str, TeamQuota]:
    team, colon, limits = entry.partition(":")
    team = team.strip()
    where = f"team quota entry {number} ({team or 'no team'})"
    if not colon or not team or len(team) > MAX_TEAM_NAME or not limits.strip():
        raise TeamQuotaError(f"{where}: write team:limit=value,... e.g. ci:rpm=120,jobs=4")
    values: dict[str, int | float] = {}
    for item in limits.split(","):
        name, equals, raw = (part.strip() for part in item.partition("="))
        if name not in LIMIT_KINDS or not equals:
            known = ", ".join(LIMIT_KINDS)
            raise TeamQuotaError(f"{where}: {name or item.strip()!r} is not one of {known} (as name=value)")
        if name in values:
            raise TeamQuotaError(f"{where}: {name} is given twice")
        values[name] = _number(where, name, raw)
    return team, TeamQuota(**values)  # type: ignore[arg-type]


def _number(where: str, name: str, raw: str) -> int | float:
    kind = LIMIT_KINDS[name]
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if not math.isfinite(value) or value <= 0:
        what = "a whole number" if kind is int else "a number"
        raise TeamQuotaError(f"{where}: {name} must be {what} above 0")
    return value
