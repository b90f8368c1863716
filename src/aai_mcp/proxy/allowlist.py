"""The only upstream calls the proxy forwards: AssemblyAI's documented paths and methods, as data.

Checked in rather than read from the specs at run time (the specs live outside the package);
tests/test_proxy_allowlist.py fails when this list and the specs disagree. `{}` is one path segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aai_mcp.catalog.model import Effect, HostName

# Where each host's paths sit under the proxy prefix: the pre-recorded API and the streaming token
# keep their own paths (so the SDKs' base_url works unchanged); the others need a host prefix.
HOST_PREFIXES: dict[HostName, str] = {
    "api": "",
    "streaming": "",
    "llm_gateway": "/llm-gateway",
    "agents": "/agents",
    # Sync and Dictation serve the same paths on their own hosts (so does the simulator, under the
    # same prefixes); an SDK's sync_base_url / dictation_base_url / tts_base_url is the prefixed URL.
    "sync": "/sync",
    "dictation": "/dictation",
    "tts": "/tts",
    "token": "/tts-token",
}

# (host, method, path template, effect): the effect is what a token's methods and read-only check,
# the same classes the MCP tools are filtered by.
ALLOWED: tuple[tuple[HostName, str, str, Effect], ...] = (
    ("api", "POST", "/v2/upload", "upload"),
    ("api", "POST", "/v2/transcript", "transcription"),
    ("api", "GET", "/v2/transcript", "read"),
    ("api", "GET", "/v2/transcript/{}", "read"),
    ("api", "DELETE", "/v2/transcript/{}", "delete"),
    ("api", "GET", "/v2/transcript/{}/{}", "read"),  # srt and vtt subtitles
    ("api", "GET", "/v2/transcript/{}/sentences", "read"),
    ("api", "GET", "/v2/transcript/{}/paragraphs", "read"),
    ("api", "GET", "/v2/transcript/{}/word-search", "read"),
    ("api", "GET", "/v2/transcript/{}/redacted-audio", "read"),
    ("streaming", "GET", "/v3/token", "credentials"),
    ("llm_gateway", "POST", "/v1/chat/completions", "llm"),
    ("llm_gateway", "POST", "/v1/understanding", "llm"),
    # From the 2026-10 SDK (llm_gateway/v1/api.py:9,12): the model list and a dry run of an
    # understanding request, which the JS and Python SDKs call through a base URL like the rest.
    ("llm_gateway", "GET", "/v1/models", "read"),
    ("llm_gateway", "POST", "/v1/understanding/validate", "llm"),
    ("agents", "GET", "/v1/token", "credentials"),
    # From the 2026-10 SDK (ENDPOINTS-SDK-2026-10.md §1-3): the paths its sync, dictation and TTS
    # clients call. `/v1/warm` only opens a connection (any answer will do), so it is a read.
    ("sync", "POST", "/v1/transcribe/live", "transcription"),
    ("sync", "GET", "/v1/warm", "read"),
    ("dictation", "POST", "/v1/transcribe/live", "transcription"),
    ("dictation", "GET", "/v1/warm", "read"),
    ("tts", "POST", "/v1/speech", "synthesis"),
    ("token", "GET", "/v1/token", "credentials"),
)

# Unreserved URL characters only: no `%` (so no encoded slash or dot), no `:` (no scheme), no `@`.
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


@dataclass(frozen=True)
class Target:
    """Where one proxied call goes: a host and the path on it (the caller's own bytes)."""

    host: HostName
    path: str
    effect: Effect
    route: str = ""
    """The allowlist's template of the path (`{}` for an id): what logs may show of the call."""


def resolve(method: str, path: str) -> Target | None:
    """The upstream call for `method` on `path` (below the proxy prefix), or None when it is not one
    of AssemblyAI's: an unknown path, a wrong method, or a path that is not plain segments."""
    segments = path.split("/")
    if segments[0] != "" or not all(_plain(segment) for segment in segments[1:]):
        return None
    for host, allowed_method, template, effect in ALLOWED:
        prefix = HOST_PREFIXES[host]
        if allowed_method == method and _matches(prefix + template, segments):
            return Target(host, path[len(prefix) :], effect, prefix + template)
    return None


def _plain(segment: str) -> bool:
    return segment not in (".", "..") and _SEGMENT.fullmatch(segment) is not None


def _matches(template: str, segments: list[str]) -> bool:
    wanted = template.split("/")
    if len(wanted) != len(segments):
        return False
    return all(theirs in ("{}", ours) for theirs, ours in zip(wanted, segments, strict=True))
