"""Normalize whatever rate-limit headers upstream sent into IETF RateLimit-* values."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx

# A reset value this large is an epoch timestamp, not a delta in seconds.
_EPOCH_THRESHOLD = 1_000_000_000


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> int | None:
    """`Retry-After` as whole seconds from now, whether sent as seconds or as an HTTP date."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0, round(when.timestamp() - current))


def _first_int(headers: httpx.Headers, *names: str) -> int | None:
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            return int(float(value.strip()))
        except ValueError:
            continue
    return None


def normalized_rate_limit(headers: httpx.Headers, now: float | None = None) -> dict[str, int]:
    """`ratelimit-limit`, `-remaining`, `-reset` (delta seconds) and `retry_after_seconds`, where known."""
    current = time.time() if now is None else now
    result: dict[str, int] = {}
    limit = _first_int(headers, "ratelimit-limit", "x-ratelimit-limit")
    remaining = _first_int(headers, "ratelimit-remaining", "x-ratelimit-remaining")
    reset = _first_int(headers, "ratelimit-reset", "x-ratelimit-reset")
    retry_after = retry_after_seconds(headers, current)
    if reset is not None and reset >= _EPOCH_THRESHOLD:
        reset = max(0, round(reset - current))
    if reset is None and retry_after is not None:
        reset = retry_after
    if retry_after is None and reset is not None and remaining == 0:
        retry_after = reset
    for key, value in (
        ("ratelimit-limit", limit),
        ("ratelimit-remaining", remaining),
        ("ratelimit-reset", reset),
        ("retry_after_seconds", retry_after),
    ):
        if value is not None:
            result[key] = value
    return result
