"""The simulator's state: one object per app, reachable as `app.state.simulator`."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .config import SimulatorConfig
from .faults import FaultQueue, QueuedFault, fault_summary, random_fault
from .history import HistoryPlan, expired, seed_history
from .jobs import TranscriptRecord, TranscriptStore
from .key_accounts import Account, Billing, build_accounts
from .llm_windows import RateWindows
from .temp_tokens import IssuedToken
from .upload_route import UploadedFile
from .webhook_sender import WebhookOutbox


@dataclass(frozen=True)
class RecordedRequest:
    """One request to an upstream path, as the simulator saw it."""

    method: str
    path: str
    query: str
    template: str
    account: int | None = None
    """The index of the account whose key came with it; None for no key the simulator knows."""

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
    account: int = 0


class Simulator:
    """The accounts (transcripts, uploads, usage per key), tokens, queued faults and the request log
    of one simulator. `transcripts`, `uploads` and `rate_windows` are the first account's."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.accounts = build_accounts(config.keys, config.gateway_rate_limit)
        self.tokens: dict[str, IssuedToken] = {}
        self.spent_tokens: set[str] = set()  # temporary tokens are single-use
        self.streams: list[StreamRecord] = []
        self.open_streams = 0
        self.requests: list[RecordedRequest] = []
        self.faults = FaultQueue()
        self.webhooks = WebhookOutbox()
        self._clock_origin = config.clock()
        self._wall_origin = config.started_at or datetime.now(UTC)
        self._seed_random()
        if config.history_count:
            self.seed_history(config.history_count, config.history_days, seed=config.seed)

    def _seed_random(self) -> None:
        # Separate streams so injecting faults does not change which ids get minted.
        self._fault_rng = random.Random(self.config.seed)
        self._id_rng = random.Random(f"ids-{self.config.seed}")

    def reset(self) -> None:
        """Forget everything: every account's transcripts, uploads, usage and switches; tokens,
        streams, faults, the request log. A configured history is seeded again."""
        for account in self.accounts.values():
            account.forget()
        self.tokens.clear()
        self.spent_tokens.clear()
        self.streams.clear()
        self.requests.clear()
        self.faults.clear()
        self.webhooks.clear()
        self._seed_random()
        if self.config.history_count:
            self.seed_history(self.config.history_count, self.config.history_days, seed=self.config.seed)

    @property
    def primary(self) -> Account:
        return self.accounts[self.config.api_key]

    @property
    def transcripts(self) -> TranscriptStore:
        return self.primary.transcripts

    @property
    def uploads(self) -> dict[str, UploadedFile]:
        return self.primary.uploads

    @property
    def rate_windows(self) -> RateWindows:
        return self.primary.rate_windows

    def account(self, key: str) -> Account:
        """The account of `key`; KeyError for a key the simulator does not accept."""
        return self.accounts[key]

    def account_at(self, index: int) -> Account:
        """Account `index` in the order of `config.keys`; IndexError past the last one."""
        return list(self.accounts.values())[index]

    def limit_key(self, key: str, seconds: float | None = None) -> None:
        """`key` answers 429 with Retry-After for `seconds`, or until `clear_key` when None."""
        self.account(key).limit(self.now(), seconds)

    def reject_key(self, key: str) -> None:
        """`key` answers 401, as AssemblyAI does for a revoked key, until `clear_key`."""
        self.account(key).reject()

    def clear_key(self, key: str) -> None:
        self.account(key).clear()

    def billing(self, key: str) -> Billing:
        """What `key`'s account would be billed for now."""
        return billing_of(self.account(key), self.status_of)

    def requests_of(self, key: str) -> list[RecordedRequest]:
        """The logged requests that came with `key` (refused ones too)."""
        index = self.account(key).index
        return [r for r in self.requests if r.account == index]

    def now(self) -> float:
        """Simulated seconds: the clock's, run `time_scale` times as fast from the simulator's start."""
        now, scale = self.config.clock(), self.config.time_scale
        if scale == 1.0:
            return now  # exactly the clock's reading: tests compare it with what they advanced it to
        return self._clock_origin + (now - self._clock_origin) * scale

    def seed_history(
        self, count: int, days: float, *, seed: int = 0, key: str | None = None
    ) -> list[TranscriptRecord]:
        """Give `key`'s account (the first by default) `count` finished transcripts created over the
        last `days` days, the same for the same `seed`; those past the retention are already gone."""
        account = self.account(key) if key is not None else self.primary
        plan = HistoryPlan(count, days, seed)
        delay = self.config.processing_delay_seconds
        return seed_history(account.transcripts, plan, self.wall_now(), self.now(), delay)

    def expired(self, record: TranscriptRecord) -> bool:
        """Past AssemblyAI's retention (config.retention_days) by the simulator's wall clock."""
        return expired(record, self.wall_now(), self.config.retention_days)

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

    def record(
        self, method: str, path: str, query: str, template: str, account: Account | None = None
    ) -> None:
        if self.config.record_requests:
            index = None if account is None else account.index
            self.requests.append(RecordedRequest(method, path, query, template, index))

    def record_stream(self, record: StreamRecord) -> None:
        self.account_at(record.account).usage.add_stream(record.audio_ms, record.session_seconds)
        # Kept under the same switch as the request log, so a long-running simulator stays flat.
        if self.config.record_requests:
            self.streams.append(record)

    def count(self, method: str, template: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.template == template)

    def stats(self) -> dict[str, Any]:
        return {
            "total": len(self.requests),
            "requests": dict(Counter(r.route for r in self.requests)),
            "transcripts": sum(len(a.transcripts) for a in self.accounts.values()),
            "uploads": sum(len(a.uploads) for a in self.accounts.values()),
            "tokens": len(self.tokens),
            "streams": len(self.streams),
            "pending_faults": [fault_summary(f) for f in self.faults.pending()],
        }


def billing_of(account: Account, status_of: Callable[[TranscriptRecord], str]) -> Billing:
    completed = [r for r in account.transcripts.newest_first() if status_of(r) == "completed"]
    usage = account.usage
    return Billing(
        transcripts_completed=len(completed),
        audio_seconds=sum(r.content.audio_duration for r in completed),
        llm_requests=usage.llm_requests,
        llm_input_tokens=usage.llm_input_tokens,
        llm_output_tokens=usage.llm_output_tokens,
        understanding_requests=usage.understanding_requests,
        stream_sessions=usage.stream_sessions,
        stream_audio_seconds=usage.stream_audio_ms / 1000,
        stream_session_seconds=usage.stream_session_seconds,
    )
