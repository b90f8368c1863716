"""The one place usage is counted, whichever front door saw the answer (the proxy as it relays, the MCP
tools as they read): audio of completed transcripts (once per transcript id, across doors and
instances: the store's unique id decides), LLM Gateway tokens per answer, streaming seconds per
session. Also the transcription jobs each team has open, for the concurrent-jobs quota.

A transcript's audio is charged to the team that created it when that is known (its job was seen
created), else to the team whose answer first showed it completed.

A job is open from its creation's answer until an answer shows it `completed` or `error`, or it is
deleted; one older than JOB_BOUND_SECONDS no longer counts (a job nobody asks about again must not
hold a team's place forever). Counting never fails a call: a store error is logged and the use lost.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import anyio
import httpx
from sqlalchemy.exc import SQLAlchemyError

from aai_mcp.catalog.model import HostName
from aai_mcp.state.store import UsageStore, UsageTotals, failure_reason
from aai_mcp.upstream.answer_fields import AnswerFields

if TYPE_CHECKING:  # aai_mcp.metrics imports upstream.errors, which runs this package's __init__ first
    from aai_mcp.metrics import Metrics

JOB_BOUND_SECONDS = 24 * 3600.0
# Transcript ids this process has seen finished: later reads of them cost no store write.
SEEN_FINISHED = 10_000
TRANSCRIPT_FIELDS = frozenset({"id", "status", "audio_duration"})
LLM_FIELDS = frozenset({"usage"})
CLIP_FIELDS = frozenset({"audio_duration_ms"})
# The Sync and Dictation APIs' one billed call (the SDK posts to /v1/transcribe/live only).
CLIP_PATHS = frozenset({"/v1/transcribe/live", "/v1/transcribe/stream", "/v1/transcribe"})
# Text-to-speech bills characters; the answer says how many in a header (its body is the audio).
BILLED_CHARACTERS = "x-tts-billed-characters"
FINISHED = frozenset({"completed", "error"})
Metered = Literal["created", "read", "deleted", "llm", "clip", "speech"]
log = logging.getLogger("aai_mcp.usage")


def metered_call(host: str, method: str, path: str) -> Metered | None:
    """What an answer to this upstream call says about usage, if anything."""
    if host == "llm_gateway" and method == "POST":
        return "llm"
    if host in ("sync", "dictation") and method == "POST" and path.split("?")[0] in CLIP_PATHS:
        return "clip"
    if host == "tts" and method == "POST" and path.split("?")[0] == "/v1/speech":
        return "speech"
    if host != "api" or not path.startswith("/v2/transcript"):
        return None
    segments = path.split("?")[0].split("/")
    if method == "POST" and len(segments) == 3:
        return "created"
    if len(segments) == 4 and method in ("GET", "DELETE"):
        return "read" if method == "GET" else "deleted"
    return None


def wanted_fields(metered: Metered) -> frozenset[str]:
    if metered == "clip":
        return CLIP_FIELDS
    return LLM_FIELDS if metered == "llm" else TRANSCRIPT_FIELDS


def billed_characters(value: str | None) -> int:
    """A TTS answer's X-TTS-Billed-Characters (0 when absent or not a count)."""
    value = (value or "").strip()
    return int(value) if value.isdigit() else 0


class UsageMeter:
    """Counts into the store (when there is one) and the team counters of /metrics."""

    def __init__(
        self, metrics: Metrics, store: UsageStore | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.clock = clock
        self._seen_finished: OrderedDict[str, None] = OrderedDict()

    def wants(self, metered: Metered, path: str) -> bool:
        """Whether an answer to this call can still add anything: a transcript this process has seen
        finished has been counted (its answers, often megabytes, are not scanned again)."""
        return metered != "read" or _transcript_id(path) not in self._seen_finished

    async def answer(
        self, account: str, metered: Metered, path: str, status: int, fields: Mapping[str, Any]
    ) -> None:
        """A successful answer to a metered call, with the top-level `fields` it carried."""
        if not 200 <= status < 300:
            return
        if metered == "llm":
            await self.llm_answer(account, fields.get("usage"))
        elif metered == "clip":
            await self.clip_answer(account, fields.get("audio_duration_ms"))
        elif metered == "deleted":
            await self._finish(_transcript_id(path))
        else:
            await self.transcript(account, fields, created=metered == "created")

    async def upstream_answer(
        self, account: str, host: HostName, method: str, path: str, response: httpx.Response
    ) -> None:
        """A successful answer read whole (an MCP tool's call): metered when its call is."""
        metered = metered_call(host, method, path)
        if metered is None or not self.wants(metered, path):
            return
        if metered == "speech":
            await self.speech_answer(account, billed_characters(response.headers.get(BILLED_CHARACTERS)))
            return
        fields = AnswerFields(wanted_fields(metered), None)  # httpx decoded `content` already
        fields.feed(response.content)
        await self.answer(account, metered, path, response.status_code, fields.fields())

    async def transcript(self, account: str, fields: Mapping[str, Any], *, created: bool = False) -> None:
        """A transcript as an answer showed it: a new job, or one seen finished (its audio counted)."""
        transcript_id, status = fields.get("id"), fields.get("status")
        if not isinstance(transcript_id, str) or not transcript_id or transcript_id in self._seen_finished:
            return
        if status not in FINISHED:
            if created:
                await self._store(lambda store: store.open_job(transcript_id, account))
            return
        seconds = _number(fields.get("audio_duration"))
        if status == "completed" and seconds is not None:
            await self._audio(account, transcript_id, seconds)
        await self._finish(transcript_id)

    async def _audio(self, reader: str, transcript_id: str, seconds: float) -> None:
        if self.store is None:  # counted in this process only
            charged: object = reader
        else:
            charged = await self._store(lambda store: store.record_transcript(transcript_id, reader, seconds))
        if isinstance(charged, str):
            self.metrics.team_usage(charged, "audio_seconds", seconds)
            self.metrics.team_usage(charged, "transcripts", 1)

    async def llm_answer(self, account: str, usage: object) -> None:
        """An LLM Gateway answer's `usage` (input/output tokens; OpenAI's prompt/completion too)."""
        if not isinstance(usage, dict):
            return
        prompt = _tokens(usage, "input_tokens", "prompt_tokens")
        completion = _tokens(usage, "output_tokens", "completion_tokens")
        total = _tokens(usage, "total_tokens") or prompt + completion
        if total <= 0:
            return
        await self._store(
            lambda store: store.record_usage(
                account, "llm", total, prompt_tokens=prompt, completion_tokens=completion
            )
        )
        self.metrics.team_usage(account, "llm_prompt_tokens", prompt)
        self.metrics.team_usage(account, "llm_completion_tokens", completion)

    async def clip_answer(self, account: str, audio_ms: object) -> None:
        """A Sync or Dictation answer's `audio_duration_ms`: the clip's audio, billed per request."""
        milliseconds = _number(audio_ms)
        if not milliseconds:
            return
        seconds = milliseconds / 1000
        await self._store(lambda store: store.record_usage(account, "clip", seconds))
        self.metrics.team_usage(account, "clip_seconds", seconds)

    async def speech_answer(self, account: str, characters: int) -> None:
        """A text-to-speech answer's billed characters."""
        if characters <= 0:
            return
        await self._store(lambda store: store.record_usage(account, "speech", characters))
        self.metrics.team_usage(account, "tts_characters", characters)

    async def record_stream(self, account: str, audio_seconds: float) -> None:
        """One streaming session's audio (for the WebSocket proxy, when a session ends)."""
        seconds = _number(audio_seconds)
        if not seconds:
            return
        await self._store(lambda store: store.record_usage(account, "stream", seconds))
        self.metrics.team_usage(account, "stream_seconds", seconds)

    async def open_jobs(self, account: str) -> int | None:
        """Jobs `account` has open; None without a store (or when it cannot be read)."""
        since = self.clock() - JOB_BOUND_SECONDS
        found = await self._store(lambda store: store.open_jobs(account, since))
        return found if isinstance(found, int) else None

    async def totals_since(self, account: str, since: float) -> UsageTotals | None:
        """What `account` used since `since`; None without a store (or when it cannot be read)."""
        found = await self._store(lambda store: store.usage_totals(since, account))
        if not isinstance(found, list):
            return None
        return found[0] if found else UsageTotals(account)

    async def _finish(self, transcript_id: str) -> None:
        self._seen_finished[transcript_id] = None
        if len(self._seen_finished) > SEEN_FINISHED:
            self._seen_finished.popitem(last=False)
        await self._store(lambda store: store.finish_jobs([transcript_id]))

    async def _store(self, work: Callable[[UsageStore], object]) -> object:
        store = self.store
        if store is None:
            return None
        try:
            return await anyio.to_thread.run_sync(lambda: work(store))
        except SQLAlchemyError as exc:
            log.warning("usage: the store could not be used: %s", failure_reason(exc))
            return None


def _transcript_id(path: str) -> str:
    """The id in /v2/transcript/{id} (the caller's own segment, as the answer names it)."""
    return path.split("?")[0].split("/")[3]


def _number(value: object) -> float | None:
    """A JSON number that can be counted (not a bool, not NaN or infinite, not negative)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _tokens(usage: Mapping[str, Any], *names: str) -> int:
    for name in names:
        value = _number(usage.get(name))
        if value is not None:
            return int(value)
    return 0


def team_names(accounts: Iterable[str]) -> frozenset[str]:
    """The teams /metrics may name: `default` and every configured account (a closed set)."""
    return frozenset({"default", *(entry.partition("=")[0].strip() for entry in accounts)})
