"""What an upstream error body says, whichever of AssemblyAI's envelopes it comes in.

The LLM Gateway answers in two envelopes the 2026-10 SDK reads (`llm_gateway/v1/api.py:15-54`,
`ENDPOINTS-SDK-2026-10.md` §4.4): business errors `{"message", "code", "request_id", "metadata":
{"errors": [...]}}`, and the auth middleware's 401 `{"error": "<text>", "status", "request_id"}`. The
2026-03 spec's `{"error": {"code", "message", "metadata"}}` is read too (the SDK is newer and wins where
they differ, but an old deployment may still send it). The other hosts send `{"error": "<text>"}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Validation messages kept from one envelope, and the characters of each: upstream may list many.
MAX_ERRORS = 10
ERROR_CHARS = 200


@dataclass(frozen=True)
class Envelope:
    message: str | None
    errors: list[str] = field(default_factory=list)
    """The gateway's `metadata.errors`: one message per problem found (validate lists them here)."""
    request_id: str | None = None
    code: str | None = None


def read_envelope(body: Any) -> Envelope:
    """The message, validation errors, request id and code a JSON error body carries."""
    if not isinstance(body, dict):
        return Envelope(None)
    request_id = _text(body.get("request_id"))
    error = body.get("error")
    if isinstance(error, dict):
        return Envelope(
            _text(error.get("message")) or json.dumps(error)[:ERROR_CHARS],
            _errors(error.get("metadata")),
            request_id,
            _text(error.get("code")),
        )
    if error:
        return Envelope(_text(error), [], request_id, _text(body.get("code")))
    message = next((_text(body[key]) for key in ("message", "detail", "title") if body.get(key)), None)
    return Envelope(message, _errors(body.get("metadata")), request_id, _text(body.get("code")))


def _errors(metadata: Any) -> list[str]:
    errors = metadata.get("errors") if isinstance(metadata, dict) else None
    if not isinstance(errors, list):
        return []
    return [_cut(str(item)) for item in errors[:MAX_ERRORS]]


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _cut(text: str) -> str:
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS] + "…"
