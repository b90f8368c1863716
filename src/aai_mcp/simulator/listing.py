"""`GET /v2/transcript`: filters, cursor paging and `page_details`."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .jobs import TranscriptRecord

STATUSES = ("queued", "processing", "completed", "error")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ListQueryError(ValueError):
    """A bad query parameter; upstream answers 400."""


@dataclass(frozen=True)
class ListQuery:
    limit: int = 10
    status: str | None = None
    created_on: str | None = None
    before_id: str | None = None
    after_id: str | None = None
    throttled_only: bool = False

    def filters(self) -> dict[str, str]:
        """The query parameters that page links keep, in upstream's order (limit first)."""
        out = {"limit": str(self.limit)}
        if self.status:
            out["status"] = self.status
        if self.created_on:
            out["created_on"] = self.created_on
        if self.throttled_only:
            out["throttled_only"] = "true"
        return out


def parse_bool(name: str, raw: str) -> bool:
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ListQueryError(f"{name} must be a Boolean")


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return 10
    try:
        limit = int(raw)
    except ValueError:
        raise ListQueryError("limit must be an Integer") from None
    if not 1 <= limit <= 200:
        raise ListQueryError("limit must be between 1 and 200")
    return limit


def parse_list_query(params: Mapping[str, str]) -> ListQuery:
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ListQueryError(f"status must be one of: {', '.join(STATUSES)}")
    created_on = params.get("created_on") or None
    if created_on is not None and not DATE_RE.match(created_on):
        raise ListQueryError("created_on must be a date in YYYY-MM-DD format")
    if params.get("before_id") and params.get("after_id"):
        raise ListQueryError("Only one of before_id and after_id can be set")
    return ListQuery(
        limit=parse_limit(params.get("limit")),
        status=status,
        created_on=created_on,
        before_id=params.get("before_id") or None,
        after_id=params.get("after_id") or None,
        throttled_only=parse_bool("throttled_only", params.get("throttled_only", "false")),
    )


StatusOf = Callable[[TranscriptRecord], str]


def matching(
    records: list[TranscriptRecord], query: ListQuery, status_of: StatusOf
) -> list[TranscriptRecord]:
    if query.throttled_only:
        # Overrides the status filter; the simulator never throttles, like an account under its limit.
        return []
    out = records
    if query.status:
        out = [r for r in out if status_of(r) == query.status]
    if query.created_on:
        out = [r for r in out if r.created_wall.date().isoformat() == query.created_on]
    return out


def cursor_sequence(records: list[TranscriptRecord], transcript_id: str) -> int | None:
    return next((r.sequence for r in records if r.transcript_id == transcript_id), None)


def select_page(
    candidates: list[TranscriptRecord], query: ListQuery, all_records: list[TranscriptRecord]
) -> list[TranscriptRecord]:
    """Newest first. after_id pages toward newer transcripts: the ones right after the cursor."""
    if query.before_id:
        cursor = cursor_sequence(all_records, query.before_id)
        older = [r for r in candidates if cursor is not None and r.sequence < cursor]
        return older[: query.limit]
    if query.after_id:
        cursor = cursor_sequence(all_records, query.after_id)
        newer = [r for r in candidates if cursor is not None and r.sequence > cursor]
        return newer[-query.limit :] if newer else []
    return candidates[: query.limit]


def page_details(
    query: ListQuery, page: list[TranscriptRecord], candidates: list[TranscriptRecord], url: str, current: str
) -> dict[str, Any]:
    """prev_url -> older (before_id), next_url -> newer (after_id); null when nothing is there."""
    prev_url = next_url = None
    if page:
        oldest, newest = page[-1].sequence, page[0].sequence
        if any(r.sequence < oldest for r in candidates):
            prev_url = f"{url}?{urlencode({**query.filters(), 'before_id': page[-1].transcript_id})}"
        if any(r.sequence > newest for r in candidates):
            next_url = f"{url}?{urlencode({**query.filters(), 'after_id': page[0].transcript_id})}"
    return {
        "limit": query.limit,
        "result_count": len(page),
        "current_url": current,
        "prev_url": prev_url,
        "next_url": next_url,
    }
