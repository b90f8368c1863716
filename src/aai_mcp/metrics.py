"""The one place that counts: tool calls, upstream requests and what is in flight, for Prometheus.

Every label value comes from a closed set (the catalog's tool names and hosts, the error kinds, status
classes), never from a caller's text: a hostile tool name cannot grow the series nor show up in a
scrape. Each app builds its own CollectorRegistry (tests build many apps in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from aai_mcp.catalog.model import HostName
from aai_mcp.upstream.errors import ErrorKind

UNKNOWN = "unknown"
OK = "ok"
CANCELLED = "cancelled"
# A call that ran and answered with a failed transcription job (isError, but no gateway error kind).
JOB_FAILED = "job_failed"
UNKNOWN_TOOL = "unknown_tool"
OUTCOMES = frozenset({OK, CANCELLED, JOB_FAILED, UNKNOWN_TOOL, *(kind.value for kind in ErrorKind)})
STREAM_OUTCOMES = frozenset({"ended", "client_left", "capped", "credential_refused", "refused"})
HOSTS: frozenset[str] = frozenset(get_args(HostName))
# No HTTP answer at all (connect error, timeout, broken connection).
NO_RESPONSE = "none"
# Tool calls run from milliseconds (a cached read) to many minutes (waits for a transcript).
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
# Usage per team, from upstream's answers (also what `aai-mcp usage` reads from the store).
TEAM_USAGE = {
    "audio_seconds": "Seconds of audio in transcripts seen completed, by team.",
    "transcripts": "Transcripts seen completed (each counted once), by team.",
    "llm_prompt_tokens": "LLM Gateway input (prompt) tokens, by team.",
    "llm_completion_tokens": "LLM Gateway output (completion) tokens, by team.",
    "stream_seconds": "Seconds of audio streamed through the WebSocket proxy, by team.",
    "clip_seconds": "Seconds of audio in Sync and Dictation answers, by team.",
    "tts_characters": "Text-to-speech characters billed, by team.",
}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Counters and histograms on one registry; `tools` are the only tool label values besides `unknown`."""

    def __init__(self, registry: CollectorRegistry, tools: Iterable[str]) -> None:
        self.registry = registry
        self.tools = frozenset(tools)
        self._calls = Counter(
            "aai_mcp_tool_calls",
            "MCP tool calls by tool and outcome (ok, an error kind, job_failed, cancelled, unknown_tool).",
            ["tool", "outcome"],
            registry=registry,
        )
        self._latency = Histogram(
            "aai_mcp_tool_call_duration_seconds",
            "Time from a tool call's arrival to its result, per tool.",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._upstream = Counter(
            "aai_mcp_upstream_requests",
            "Requests to AssemblyAI by host and answer's status class (1xx..5xx, none: no answer).",
            ["host", "status_class"],
            registry=registry,
        )
        self._rate_limited = Counter(
            "aai_mcp_upstream_rate_limited",
            "AssemblyAI answers with status 429, by host.",
            ["host"],
            registry=registry,
        )
        self._key_events = Counter(
            "aai_mcp_upstream_key_events",
            "Key pool events by key name (never its value): rate_limited, refused, failover, and "
            "no_usable_key (key label empty).",
            ["key", "event"],
            registry=registry,
        )
        self._stream_sessions = Counter(
            "aai_mcp_proxy_stream_sessions",
            "Streaming sessions through the team proxy by how they ended: ended (upstream closed), "
            "client_left, capped, credential_refused (revoked or expired mid-session), refused (before "
            "the upgrade).",
            ["outcome"],
            registry=registry,
        )
        self.teams: frozenset[str] = frozenset()
        """The team label values besides `unknown`: the configured accounts (set by the gateway)."""
        self._team_usage = {
            what: Counter(f"aai_mcp_team_{what}", help_text, ["team"], registry=registry)
            for what, help_text in TEAM_USAGE.items()
        }
        self._quota_refusals = Counter(
            "aai_mcp_team_quota_refusals",
            "Proxied requests refused with 429 because the team was over a quota, by team and quota.",
            ["team", "quota"],
            registry=registry,
        )
        self._gauges: dict[str, Gauge] = {}

    def tool_label(self, name: str) -> str:
        return name if name in self.tools else UNKNOWN

    def tool_call(self, name: str, outcome: str, seconds: float) -> None:
        """One finished call (also an unknown tool's: its name is counted as `unknown`)."""
        tool = self.tool_label(name)
        self._calls.labels(tool=tool, outcome=outcome if outcome in OUTCOMES else UNKNOWN).inc()
        self._latency.labels(tool=tool).observe(max(seconds, 0.0))

    def upstream_answer(self, host: str, status: int | None) -> None:
        """One attempt at an upstream request: its status, or None when no answer came."""
        label = host if host in HOSTS else UNKNOWN
        self._upstream.labels(host=label, status_class=status_class(status)).inc()
        if status == 429:
            self._rate_limited.labels(host=label).inc()

    def key_event(self, key_name: str | None, event: str) -> None:
        """A key pool event; key names come from the operator's configuration (a closed set)."""
        self._key_events.labels(key=key_name or "", event=event).inc()

    def stream_session(self, outcome: str) -> None:
        """One streaming session of the team proxy, ended with `outcome` (a closed set)."""
        self._stream_sessions.labels(outcome=outcome if outcome in STREAM_OUTCOMES else UNKNOWN).inc()

    def team_label(self, team: str) -> str:
        return team if team in self.teams else UNKNOWN

    def team_usage(self, team: str, what: str, amount: float) -> None:
        """Usage counted once across instances (the instance whose record won counts it)."""
        if amount > 0:
            self._team_usage[what].labels(team=self.team_label(team)).inc(amount)

    def quota_refused(self, team: str, quota: str) -> None:
        self._quota_refusals.labels(team=self.team_label(team), quota=quota).inc()

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge read at scrape time; registering `name` again (a second app on the same gateway)
        replaces the earlier one instead of failing on the duplicate."""
        earlier = self._gauges.pop(name, None)
        if earlier is not None:
            self.registry.unregister(earlier)
        gauge = Gauge(name, documentation, registry=self.registry)
        gauge.set_function(read)
        self._gauges[name] = gauge

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def status_class(status: int | None) -> str:
    if status is None or not 100 <= status <= 599:
        return NO_RESPONSE
    return f"{status // 100}xx"


def unregistered_metrics(tools: Iterable[str] = ()) -> Metrics:
    """Metrics nobody scrapes: for an Upstream or runner built outside the composition root."""
    return Metrics(CollectorRegistry(), tools)
