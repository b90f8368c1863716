"""The simulator's state: one object per app, reachable as `app.state.simulator`."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .config import SimulatorConfig
from .faults import FaultQueue, QueuedFault, fault_summary, random_fault
from .jobs import TranscriptRecord, TranscriptStore
from .llm_windows import RateWindows
from .temp_tokens import IssuedToken
from .upload_route import UploadedFile


@dataclass(frozen=True)
class RecordedRequest:
    """One request to an upstream path, as the simulator saw it."""

    method: str
    path: str
    query: str
    template: str

    @property
    def route(self) -> str:
        return f"{self.method} {self.template}"


@dataclass(frozen=True)
class StreamRecord:
    """One finished streaming session, as the simulator would bill it."""

    session_id: str
    audio_ms: int
    session_seconds: float
    close_code: int


class Simulator:
    """Transcripts, uploads, tokens, queued faults and the request log of one simulator."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.transcripts = TranscriptStore()
        self.uploads: dict[str, UploadedFile] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.spent_tokens: set[str] = set()  # temporary tokens are single-use
        self.streams: list[StreamRecord] = []
        self.open_streams = 0
        self.requests: list[RecordedRequest] = []
        self.faults = FaultQueue()
        self.rate_windows = RateWindows(config.gateway_rate_limit)
        self._clock_origin = config.clock()
        self._wall_origin = config.started_at or datetime.now(UTC)
        self._seed_random()

    def _seed_random(self) -> None:
        # Separate streams so injecting faults does not change which ids get minted.
        self._fault_rng = random.Random(self.config.seed)
        self._id_rng = random.Random(f"ids-{self.config.seed}")

    def reset(self) -> None:
        """Forget everything: transcripts, uploads, tokens, streams, faults, the request log."""
        self.transcripts.clear()
        self.uploads.clear()
        self.tokens.clear()
        self.spent_tokens.clear()
        self.streams.clear()
        self.requests.clear()
        self.faults.clear()
        self.rate_windows.clear()
        self._seed_random()

    def now(self) -> float:
        return self.config.clock()

    def wall_now(self) -> datetime:
        """Wall time that moves with the injected clock."""
        return self._wall_origin + timedelta(seconds=self.now() - self._clock_origin)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    def status_of(self, record: TranscriptRecord) -> str:
        return record.status_at(self.now(), self.config.processing_delay_seconds)

    def queue_fault(
        self,
        fault: str,
        count: int = 1,
        path_prefix: str | None = None,
        method: str | None = None,
        delay_seconds: float | None = None,
    ) -> QueuedFault:
        """Fail the next `count` requests matching `path_prefix`/`method` with `fault`."""
        queued = QueuedFault(fault, count, path_prefix, method, delay_seconds)
        self.faults.add(queued)
        return queued

    def next_fault(self, method: str, path: str) -> tuple[str, float | None] | None:
        """A queued fault if one matches, else maybe a random one at the configured rates."""
        queued = self.faults.take(method, path)
        if queued is not None:
            return queued.kind, queued.delay_seconds
        kind = random_fault(self._fault_rng, self.config.rate_429, self.config.rate_5xx)
        return (kind, None) if kind else None

    def record(self, method: str, path: str, query: str, template: str) -> None:
        if self.config.record_requests:
            self.requests.append(RecordedRequest(method, path, query, template))

    def record_stream(self, record: StreamRecord) -> None:
        # Kept under the same switch as the request log, so a long-running simulator stays flat.
        if self.config.record_requests:
            self.streams.append(record)

    def count(self, method: str, template: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.template == template)

    def stats(self) -> dict[str, Any]:
        return {
            "total": len(self.requests),
            "requests": dict(Counter(r.route for r in self.requests)),
            "transcripts": len(self.transcripts),
            "uploads": len(self.uploads),
            "tokens": len(self.tokens),
            "streams": len(self.streams),
            "pending_faults": [fault_summary(f) for f in self.faults.pending()],
        }
