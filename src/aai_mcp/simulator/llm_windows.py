"""The per-model 60-second windows behind llm-gateway's X-RateLimit-* headers."""

from __future__ import annotations

import math

WINDOW_SECONDS = 60.0
SERVICE_LLM = "LLM Gateway"
SERVICE_UNDERSTANDING = "Speech Understanding"
UNDERSTANDING_MODEL = "speech-understanding"


def rate_limit_headers(limit: int, remaining: int, reset: int, model: str, service: str) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
        "X-RateLimit-Model": model,
        "X-RateLimit-Service": service,
    }


class RateWindows:
    """Counts requests per (service, model); reports, never enforces (faults do that)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def hit(self, service: str, model: str, now: float) -> dict[str, str]:
        start, count = self._windows.get((service, model), (now, 0))
        if now - start >= WINDOW_SECONDS:
            start, count = now, 0
        count += 1
        self._windows[(service, model)] = (start, count)
        reset = max(math.ceil(start + WINDOW_SECONDS - now), 0)
        return rate_limit_headers(self.limit, max(self.limit - count, 0), reset, model, service)

    def clear(self) -> None:
        self._windows.clear()
