"""Temporary tokens for streaming (`/v3/token`) and the Voice Agent API (`/v1/token`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

EXPIRES_RANGE = (1, 600)
SESSION_RANGE = (60, 10800)
DEFAULT_SESSION_SECONDS = 10800


class TokenParamError(ValueError):
    """A missing or out-of-range query parameter (400)."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    audience: str  # "streaming", "agents" or "tts"
    expires_in_seconds: int
    max_session_duration_seconds: int
    issued_at: float  # simulator clock
    expires_at: float
    account: int = 0  # the index of the account that asked for it: its sessions are billed there

    def usable_at(self, now: float) -> bool:
        return now < self.expires_at


def parse_int_param(
    params: Mapping[str, str], name: str, bounds: tuple[int, int], default: int | None
) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise TokenParamError(f"{name} is required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TokenParamError(f"{name} must be an integer") from None
    low, high = bounds
    if not low <= value <= high:
        raise TokenParamError(f"{name} must be between {low} and {high}")
    return value


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_token(claims: dict[str, object], secret: str) -> str:
    """A JWT-shaped token (HS256 over the simulator key), so it looks like upstream's."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def issue_token(
    params: Mapping[str, str], audience: str, now: float, secret: str, account: int = 0
) -> IssuedToken:
    expires = parse_int_param(params, "expires_in_seconds", EXPIRES_RANGE, None)
    session = parse_int_param(params, "max_session_duration_seconds", SESSION_RANGE, DEFAULT_SESSION_SECONDS)
    claims: dict[str, object] = {
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "expires_in_seconds": expires,
        "max_session_duration_seconds": session,
    }
    return IssuedToken(
        token=sign_token(claims, secret),
        audience=audience,
        expires_in_seconds=expires,
        max_session_duration_seconds=session,
        issued_at=now,
        expires_at=now + expires,
        account=account,
    )
