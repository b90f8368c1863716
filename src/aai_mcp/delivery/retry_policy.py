"""What a delivery's answer means and when to try again: 2xx delivered; 408, 429, 5xx and network
failures retried with exponential backoff and jitter, no sooner than a Retry-After; any other status
refused for good (a dead letter at once: trying again would get the same answer)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Literal

Verdict = Literal["delivered", "retry", "refused"]
RETRYABLE_4XX = frozenset({408, 429})


def verdict(status: int) -> Verdict:
    if 200 <= status < 300:
        return "delivered"
    if status in RETRYABLE_4XX or status >= 500:
        return "retry"
    return "refused"


@dataclass(frozen=True)
class RetryPolicy:
    """Tries per row, and the waits between them (seconds)."""

    max_attempts: int = 8
    base_seconds: float = 5.0
    max_seconds: float = 3600.0
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """The wait after the `attempts`-th failed try: base * 2^(attempts-1) capped, the upper half of
        it at random (so rows failed together do not come back together), and never less than the
        receiver's Retry-After (itself capped, so a receiver cannot park a row for days)."""
        ceiling: float = min(self.max_seconds, self.base_seconds * 2.0 ** max(attempts - 1, 0))
        jittered: float = ceiling / 2 + self.random() * ceiling / 2
        if retry_after is not None:
            return max(jittered, min(retry_after, self.max_seconds))
        return jittered


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header as seconds from `now`: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)
