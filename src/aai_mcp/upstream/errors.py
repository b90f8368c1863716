"""Upstream failures as one exception type that knows what the model should be told."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from aai_mcp.redaction import Redactor
from aai_mcp.upstream.ratelimit import normalized_rate_limit

DETAIL_CHARS = 300
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Failures after the whole request went out: upstream may have acted on it before the answer was lost.
AFTER_SENDING = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)


@dataclass
class UpstreamError(Exception):
    """An upstream call that did not produce a usable answer."""

    message: str
    status: int | None = None
    retryable: bool = False
    kind: str = "http_error"
    rate_limit: dict[str, int] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    """What had already happened when a multi-step tool failed (e.g. the transcript_id it created)."""
    outcome_unknown: bool = False
    """A non-idempotent request was sent but its answer lost: upstream may have carried it out."""

    def during(self, stage: str, **context: Any) -> UpstreamError:
        """Say which step of a multi-step tool failed and what exists already."""
        self.message = f"{stage}: {self.message}"
        self.context.update(context)
        return self

    def __str__(self) -> str:
        return self.message

    def redacted(self, secret: str) -> UpstreamError:
        """The same error with `secret` blanked out in any form, should upstream echo a key back."""
        self.message = Redactor([secret]).text(self.message)
        return self

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message": self.message,
            "kind": self.kind,
            "status": self.status,
            "retryable": self.retryable,
        }
        data.update(self.rate_limit)
        data.update(self.context)
        return data


def error_from_response(response: httpx.Response) -> UpstreamError:
    status = response.status_code
    detail = _error_text(response)
    if status == 429:
        return UpstreamError(
            message=f"AssemblyAI rate limit reached (HTTP 429): {detail}. Wait before calling again.",
            status=status,
            retryable=True,
            kind="rate_limited",
            rate_limit=normalized_rate_limit(response.headers),
        )
    retryable = status in RETRYABLE_STATUSES
    hint = " A retry may help." if retryable else ""
    return UpstreamError(
        message=f"AssemblyAI answered HTTP {status}: {detail}.{hint}",
        status=status,
        retryable=retryable,
        rate_limit=normalized_rate_limit(response.headers),
    )


def error_from_transport(exc: httpx.TransportError, host: str, method: str = "GET") -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        what, kind = "timed out", "timeout"
    elif isinstance(exc, httpx.ConnectError):
        what, kind = "could not be reached", "connection_error"
    else:
        what, kind = f"failed mid-request ({type(exc).__name__})", "connection_error"
    unknown = method != "GET" and isinstance(exc, AFTER_SENDING)
    advice = (
        "The request had been sent, so AssemblyAI may have carried it out although no answer arrived: "
        "check before sending it again."
        if unknown
        else "A retry may help."
    )
    return UpstreamError(
        message=f"The AssemblyAI {host} host {what}. {advice}",
        retryable=True,
        kind=kind,
        outcome_unknown=unknown,
    )


def malformed_body(status: int, problem: str) -> UpstreamError:
    return UpstreamError(
        message=f"AssemblyAI answered HTTP {status} with {problem}. A retry may help.",
        status=status,
        retryable=True,
        kind="bad_response",
    )


def _error_text(response: httpx.Response) -> str:
    """Upstream's error text, cut to DETAIL_CHARS (upstream may echo a whole request back)."""
    text = _full_error_text(response)
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + "…"


def _full_error_text(response: httpx.Response) -> str:
    """Upstream's `error` text, or the gateway's nested `error.message`, else a short body excerpt."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text.strip()
        return text[:300] if text else response.reason_phrase or "no details"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error)
        if error:
            return str(error)
        for key in ("detail", "message", "title"):
            if body.get(key):
                return str(body[key])
    return json.dumps(body)[:300]
