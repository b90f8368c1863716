"""The signature on every delivery, and the check a receiver runs.

Header `AAI-MCP-Signature: t=<unix seconds>,v1=<hex>`, where hex is HMAC-SHA256(secret,
"<t>.<raw body>"), as Stripe and Standard Webhooks do: the timestamp is signed with the body, so a
captured request replayed later fails the receiver's replay window, and an edited body or timestamp
fails the comparison.

`verify_signature` uses the standard library only: receivers may copy it as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "AAI-MCP-Signature"
EVENT_ID_HEADER = "AAI-MCP-Event-Id"
EVENT_TYPE_HEADER = "AAI-MCP-Event-Type"
REPLAY_WINDOW_SECONDS = 300


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The header value signing `body` sent at `timestamp` (unix seconds) with `secret`."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    tolerance_seconds: int = REPLAY_WINDOW_SECONDS,
    now: float | None = None,
) -> bool:
    """True when `header` (the AAI-MCP-Signature value) signs the raw `body` with `secret` and its
    timestamp is within `tolerance_seconds` of now. Check it on the raw bytes, before parsing the JSON;
    then drop an event whose id (AAI-MCP-Event-Id, also the body's "id") you have seen: a delivery
    may come more than once."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, timestamp, body)
    # Several v1 values: the sender signs with each secret while one is being rotated.
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))
