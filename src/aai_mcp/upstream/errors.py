"""Upstream failures as one exception type that knows what the model should be told."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

from aai_mcp.redaction import Redactor
from aai_mcp.upstream.error_envelopes import Envelope, read_envelope
from aai_mcp.upstream.ratelimit import normalized_rate_limit

DETAIL_CHARS = 300
# Upstream statuses a later attempt may get past: a timeout, "too early", or the server's own trouble.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Failures after the whole request went out: upstream may have acted on it before the answer was lost.
AFTER_SENDING = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)


class ErrorKind(StrEnum):
    """Every kind of tool error, in one place: `kind` in `_meta["aai-mcp/error"]`, and whether the same
    call may succeed later (`retryable`), which is a property of the kind, never decided case by case."""

    INVALID_ARGUMENTS = "invalid_arguments"
    FORBIDDEN = "forbidden"
    TOO_MANY_CALLS = "too_many_calls"
    SHUTTING_DOWN = "shutting_down"
    URL_REFUSED = "url_refused"
    DNS_FAILED = "dns_failed"
    DOWNLOAD_FAILED = "download_failed"
    DOWNLOAD_REJECTED = "download_rejected"
    RATE_LIMITED = "rate_limited"
    NO_USABLE_KEY = "no_usable_key"
    UPSTREAM_REJECTED = "upstream_rejected"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    BAD_RESPONSE = "bad_response"
    INTERNAL = "internal"

    @property
    def retryable(self) -> bool:
        return KINDS[self][0]

    @property
    def meaning(self) -> str:
        return KINDS[self][1]


KINDS: dict[ErrorKind, tuple[bool, str]] = {
    ErrorKind.INVALID_ARGUMENTS: (False, "The arguments cannot be served; the message says what to change."),
    ErrorKind.FORBIDDEN: (False, "The caller's token lacks a scope or method this call needs."),
    ErrorKind.TOO_MANY_CALLS: (True, "The token's concurrent-call limit is reached; retry when one ends."),
    ErrorKind.SHUTTING_DOWN: (
        True,
        "The server stopped the call to shut down; the next call reaches a running one.",
    ),
    ErrorKind.URL_REFUSED: (
        False,
        "upload_file(url): the host is unknown or internal (private, loopback, link-local).",
    ),
    ErrorKind.DNS_FAILED: (True, "upload_file(url): looking up the URL's host failed for now (no answer)."),
    ErrorKind.DOWNLOAD_FAILED: (
        True,
        "upload_file(url): the download could not connect, broke off, timed out, or its server "
        "answered 408, 425, 429 or 5xx.",
    ),
    ErrorKind.DOWNLOAD_REJECTED: (
        False,
        "upload_file(url): the URL's server refused the file (another HTTP error) or redirected too often.",
    ),
    ErrorKind.RATE_LIMITED: (True, "AssemblyAI answered 429; wait `retry_after_seconds` first."),
    ErrorKind.NO_USABLE_KEY: (
        True,
        "Every AssemblyAI key the call may use (the one that made its transcript or upload, else any of "
        "the account's pool) is cooling down after a 429 or disabled after a 401/403; wait "
        "`retry_after_seconds` when given, else an operator must run `aai-mcp keys enable`.",
    ),
    ErrorKind.UPSTREAM_REJECTED: (False, "AssemblyAI refused the request (a 4xx other than 408, 425, 429)."),
    ErrorKind.UPSTREAM_UNAVAILABLE: (True, "AssemblyAI answered 408, 425 or 5xx."),
    ErrorKind.TIMEOUT: (True, "AssemblyAI did not answer in time."),
    ErrorKind.CONNECTION_ERROR: (True, "AssemblyAI could not be reached, or the connection broke."),
    ErrorKind.BAD_RESPONSE: (True, "AssemblyAI's answer was malformed (not the JSON or text expected)."),
    ErrorKind.INTERNAL: (False, "A bug in the gateway; the server logged it without the arguments."),
}


@dataclass
class UpstreamError(Exception):
    """A call to a remote (AssemblyAI, or a URL upload_file downloads) that gave no usable answer."""

    message: str
    kind: ErrorKind
    status: int | None = None
    rate_limit: dict[str, int] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    """What had already happened when a multi-step tool failed (e.g. the transcript_id it created)."""
    outcome_unknown: bool = False
    """A non-idempotent request was sent but its answer lost: upstream may have carried it out."""
    reported: dict[str, Any] = field(default_factory=dict)
    """What upstream's error body said beyond its message: `upstream_errors` (the LLM Gateway's list of
    validation messages) and `request_id`, for the caller to act on or quote to support."""

    @property
    def retryable(self) -> bool:
        return self.kind.retryable

    def during(self, stage: str, **context: Any) -> UpstreamError:
        """Say which step of a multi-step tool failed and what exists already."""
        self.message = f"{stage}: {self.message}"
        self.context.update(context)
        return self

    def __str__(self) -> str:
        return self.message

    def redacted(self, secret: str) -> UpstreamError:
        """The same error with `secret` blanked out in any form, should upstream echo a key back."""
        redactor = Redactor([secret])
        self.message = redactor.text(self.message)
        self.reported = {key: redactor.value(value) for key, value in self.reported.items()}
        return self

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message": self.message,
            "kind": self.kind.value,
            "status": self.status,
            "retryable": self.retryable,
        }
        data.update(self.rate_limit)
        data.update(self.reported)
        data.update(self.context)
        return data


def error_from_response(response: httpx.Response) -> UpstreamError:
    status = response.status_code
    envelope = _envelope(response)
    detail = _error_text(response, envelope)
    reported = _reported(envelope)
    if status == 429:
        return UpstreamError(
            message=f"AssemblyAI rate limit reached (HTTP 429): {detail}. Wait before calling again.",
            kind=ErrorKind.RATE_LIMITED,
            status=status,
            rate_limit=normalized_rate_limit(response.headers),
            reported=reported,
        )
    kind = ErrorKind.UPSTREAM_UNAVAILABLE if status in RETRYABLE_STATUSES else ErrorKind.UPSTREAM_REJECTED
    hint = " A retry may help." if kind.retryable else ""
    return UpstreamError(
        message=f"AssemblyAI answered HTTP {status}: {detail}.{hint}",
        kind=kind,
        status=status,
        rate_limit=normalized_rate_limit(response.headers),
        reported=reported,
    )


def _reported(envelope: Envelope | None) -> dict[str, Any]:
    if envelope is None:
        return {}
    reported: dict[str, Any] = {}
    if envelope.errors:
        reported["upstream_errors"] = envelope.errors
    if envelope.request_id:
        reported["request_id"] = envelope.request_id[:DETAIL_CHARS]
    return reported


def no_usable_key(message: str, retry_after: float | None) -> UpstreamError:
    """The key pool has no key for this call now: the tool's counterpart of the proxy's 503."""
    wait = {} if retry_after is None else {"retry_after_seconds": max(1, math.ceil(retry_after))}
    advice = (
        f" Wait {wait['retry_after_seconds']} s before calling again."
        if wait
        else " An operator must enable a key (`aai-mcp keys enable`)."
    )
    return UpstreamError(
        message=f"No usable AssemblyAI key: {message}.{advice}", kind=ErrorKind.NO_USABLE_KEY, rate_limit=wait
    )


def error_from_transport(exc: httpx.TransportError, host: str, method: str = "GET") -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        what, kind = "timed out", ErrorKind.TIMEOUT
    elif isinstance(exc, httpx.ConnectError):
        what, kind = "could not be reached", ErrorKind.CONNECTION_ERROR
    else:
        what, kind = f"failed mid-request ({type(exc).__name__})", ErrorKind.CONNECTION_ERROR
    unknown = method != "GET" and isinstance(exc, AFTER_SENDING)
    advice = (
        "The request had been sent, so AssemblyAI may have carried it out although no answer arrived: "
        "check before sending it again."
        if unknown
        else "A retry may help."
    )
    return UpstreamError(
        message=f"The AssemblyAI {host} host {what}. {advice}", kind=kind, outcome_unknown=unknown
    )


def malformed_body(status: int, problem: str) -> UpstreamError:
    return UpstreamError(
        message=f"AssemblyAI answered HTTP {status} with {problem}. A retry may help.",
        kind=ErrorKind.BAD_RESPONSE,
        status=status,
    )


def _error_text(response: httpx.Response, envelope: Envelope | None) -> str:
    """Upstream's error text, cut to DETAIL_CHARS (upstream may echo a whole request back)."""
    text = _full_error_text(response, envelope)
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + "…"


def _envelope(response: httpx.Response) -> Envelope | None:
    """The JSON error body read as one of upstream's envelopes; None when the body is not JSON."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return read_envelope(body)


def _full_error_text(response: httpx.Response, envelope: Envelope | None) -> str:
    """The envelope's message and its validation errors, else a short body excerpt."""
    if envelope is None:
        text = response.text.strip()
        return text[:300] if text else response.reason_phrase or "no details"
    if envelope.message is None and not envelope.errors:
        return json.dumps(response.json())[:300]
    errors = "; ".join(envelope.errors)
    if envelope.message is None:
        return errors
    return f"{envelope.message} ({errors})" if errors else envelope.message
