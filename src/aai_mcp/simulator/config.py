"""Settings for the offline AssemblyAI simulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

MAX_TIME_SCALE = 10_000.0


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig:
    """How the simulator behaves: accepted keys, job timing, injected faults.

    `api_key` and each of `api_keys` is one AssemblyAI account of its own: a key sees only the
    uploads and transcripts it made. Any of them opens the `/_sim/` admin routes.

    `clock` is read for every lifecycle decision (queued -> processing -> completed,
    token expiry, rate-limit windows), so tests can pass a fake clock and advance it
    instead of sleeping. `started_at` is the wall time the first clock reading maps to
    (timestamps in transcript lists are derived from it); `None` means "now".

    `time_scale` runs the simulator's time faster than `clock`: at 60, a job of
    `processing_delay_seconds=600` (ten simulated minutes) ends after ten real seconds, and every
    simulated time (status timeline, created/completed stamps, windows, token expiry) moves 60 times
    as fast, so a long job can be watched from start to end within a test.
    """

    api_key: str = "sim-key"
    api_keys: tuple[str, ...] = ()
    """More accounts beside `api_key`'s (a repeat of `api_key` adds none)."""
    processing_delay_seconds: float = 3.0
    clock: Callable[[], float] = time.monotonic
    time_scale: float = 1.0
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    retry_after_seconds: int = 2
    latency_ms: int = 0
    seed: int = 0
    slow_body_seconds: float = 2.0
    gateway_rate_limit: int = 30
    started_at: datetime | None = None
    max_streams: int | None = None  # concurrent streaming sessions; one more closes 3009
    # Streaming audio faster than this many times real time (after a 1 s head start) closes 3007;
    # None (the default) lets tests send files as fast as they can.
    stream_realtime_factor: float | None = None
    history_count: int = 0
    """Transcripts the first account starts with, created over the last `history_days` (from `seed`)."""
    history_days: float = 30.0
    retention_days: float | None = 90.0
    """Older transcripts are gone (404, absent from the list), as AssemblyAI's; None keeps all."""
    record_requests: bool = True  # the request log is for tests; off, a long-running simulator stays flat

    def __post_init__(self) -> None:
        if not self.api_key or not all(self.api_keys):
            raise ValueError("api_key and api_keys must not be empty")
        if len(set(self.api_keys)) != len(self.api_keys):
            raise ValueError("api_keys must be distinct: each key is one account")
        if self.processing_delay_seconds < 0:
            raise ValueError("processing_delay_seconds must be >= 0")
        if not 0 < self.time_scale <= MAX_TIME_SCALE:
            raise ValueError(f"time_scale must be > 0 and <= {MAX_TIME_SCALE:g}")
        for name in ("rate_429", "rate_5xx"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.rate_429 + self.rate_5xx > 1.0:
            raise ValueError("rate_429 + rate_5xx must not exceed 1")
        if self.stream_realtime_factor is not None and self.stream_realtime_factor <= 0:
            raise ValueError("stream_realtime_factor must be > 0")
        if self.max_streams is not None and self.max_streams < 0:
            raise ValueError("max_streams must be >= 0")
        if self.history_count < 0 or self.history_days <= 0:
            raise ValueError("history_count must be >= 0 and history_days > 0")
        if self.retention_days is not None and self.retention_days <= 0:
            raise ValueError("retention_days must be > 0")
        if self.retry_after_seconds < 0 or self.latency_ms < 0 or self.slow_body_seconds < 0:
            raise ValueError("retry_after_seconds, latency_ms and slow_body_seconds must be >= 0")

    @property
    def keys(self) -> tuple[str, ...]:
        """Every accepted key, `api_key` first: account 0, 1, ... in this order."""
        return tuple(dict.fromkeys((self.api_key, *self.api_keys)))
