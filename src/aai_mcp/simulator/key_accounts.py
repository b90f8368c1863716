"""The simulator's AssemblyAI accounts: one per accepted key, each with its own transcripts and
uploads, its own switches (rate-limited, rejected) and what it would be billed for."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .jobs import TranscriptStore
from .llm_windows import RateWindows
from .upload_route import UploadedFile


@dataclass(frozen=True)
class Billing:
    """What one account would be billed for, as AssemblyAI counts it."""

    transcripts_completed: int
    audio_seconds: int
    """Sum of `audio_duration` over the account's completed transcripts (deleted ones too: they ran)."""
    llm_requests: int
    llm_input_tokens: int
    llm_output_tokens: int
    understanding_requests: int
    stream_sessions: int
    stream_audio_seconds: float
    stream_session_seconds: float

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Usage:
    """The running counters behind `Billing` (transcripts are counted when billing is read: they
    complete as the clock moves, not on a request)."""

    llm_requests: int = 0
    llm_input_tokens: int = 0
    llm_output_tokens: int = 0
    understanding_requests: int = 0
    stream_sessions: int = 0
    stream_audio_ms: int = 0
    stream_session_seconds: float = 0.0
    tts_characters: int = 0  # billed text-to-speech characters (X-TTS-Billed-Characters)

    def add_llm(self, usage: dict[str, Any]) -> None:
        self.llm_requests += 1
        self.llm_input_tokens += int(usage.get("input_tokens", 0))
        self.llm_output_tokens += int(usage.get("output_tokens", 0))

    def add_stream(self, audio_ms: int, session_seconds: float) -> None:
        self.stream_sessions += 1
        self.stream_audio_ms += audio_ms
        self.stream_session_seconds += session_seconds


@dataclass
class Account:
    """One AssemblyAI account: its key sees only its own resources."""

    index: int
    key: str = field(repr=False)
    gateway_rate_limit: int
    transcripts: TranscriptStore = field(default_factory=TranscriptStore)
    uploads: dict[str, UploadedFile] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    limited_until: float | None = None
    """Simulator clock time the key's 429s end at; `math.inf` until cleared."""
    rejected: bool = False
    answered: Counter[str] = field(default_factory=Counter)
    """Requests the key got through with, per route (`GET /v2/transcript/{transcript_id}`)."""
    refused: Counter[int] = field(default_factory=Counter)
    """Requests its switches refused, per status (429, 401)."""
    rate_windows: RateWindows = field(init=False)

    def __post_init__(self) -> None:
        self.rate_windows = RateWindows(self.gateway_rate_limit)

    @property
    def fingerprint(self) -> str:
        """Names the key in admin answers without showing it."""
        return "sha256:" + hashlib.sha256(self.key.encode()).hexdigest()[:12]

    def limit(self, now: float, seconds: float | None) -> None:
        """Answer 429 for `seconds` (None: until `clear`)."""
        if seconds is not None and seconds < 0:
            raise ValueError("seconds must be >= 0")
        self.limited_until = math.inf if seconds is None else now + seconds

    def reject(self) -> None:
        """Answer 401 as for a revoked key, until `clear`."""
        self.rejected = True

    def clear(self) -> None:
        self.limited_until = None
        self.rejected = False

    def retry_after(self, now: float, unknown: int) -> int | None:
        """Whole seconds the key stays rate-limited (at least 1; `unknown` when limited until
        cleared), None when it is not."""
        if self.limited_until is None or self.limited_until <= now:
            return None
        if math.isinf(self.limited_until):
            return unknown
        return max(1, math.ceil(self.limited_until - now))

    def forget(self) -> None:
        """Back to a new account: no resources, no usage, no switches."""
        self.transcripts.clear()
        self.uploads.clear()
        self.usage = Usage()
        self.rate_windows.clear()
        self.answered.clear()
        self.refused.clear()
        self.clear()


def build_accounts(keys: tuple[str, ...], gateway_rate_limit: int) -> dict[str, Account]:
    return {key: Account(index, key, gateway_rate_limit) for index, key in enumerate(keys)}
