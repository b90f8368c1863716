"""Signed, expiring access tokens `aai1.<payload>.<signature>`, checked without any database.

The payload is base64url (no padding) of compact JSON claims; the signature is base64url of
HMAC-SHA256 over the ASCII text `aai1.<payload>`. Every character is in [A-Za-z0-9._-], so a
token fits in a URL path (`/mcp/t/<token>`) as well as in `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from secrets import token_bytes, token_urlsafe
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aai_mcp.access.scopes import METHOD_CLASSES, RETIRED_CLASSES, Scopes

PREFIX = "aai1"
VERSION = 1
HEADER_NAME = "X-AAI-MCP-Secret"
MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 4096
JTI_PATTERN = r"^tok_[a-z2-7]{12}$"
NAME_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"
ACCOUNT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_SIGNATURE_CHARS = 43  # 32 bytes of HMAC-SHA256 in unpadded base64url

ErrorCode = Literal[
    "malformed", "bad_signature", "header_missing", "header_wrong", "revoked", "expired",
    "revocation_unavailable",
]  # fmt: skip


class TokenError(Exception):
    """A token was refused. `code` is for programs, `reason` is safe to show the client."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code: ErrorCode = code
        self.reason = reason


class Claims(BaseModel):
    """What a token says about itself: who it is for, until when, and what it may call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1]
    jti: str = Field(pattern=JTI_PATTERN)
    name: str = Field(pattern=NAME_PATTERN)
    iat: int
    exp: int | None
    """Unix seconds after which the token is refused; None: it never expires."""
    scopes: Scopes
    account: str = Field(pattern=ACCOUNT_PATTERN)
    hdr: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    """sha256 hex of the secret the client must also send in the X-AAI-MCP-Secret header."""
    aud: str | None = Field(None, max_length=1000)
    """The one resource (RFC 8707: this server's MCP URL) an OAuth-issued token is valid for; None on
    tokens minted by the operator, which any of this server's endpoints accept."""
    fam: str | None = Field(None, pattern=r"^fam_[0-9a-f]{16}$")
    """The OAuth token family (grant) an access token was issued from: its MCP sessions belong to the
    family, so the token a refresh brings keeps them. None on tokens minted by the operator."""

    def expired(self, now: float) -> bool:
        return self.exp is not None and now >= self.exp

    def payload(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"scopes", "hdr", "aud", "fam"})
        data["scopes"] = self.scopes.model_dump(mode="json", exclude_none=True)
        # Left out when absent, so tokens without them encode exactly as before these claims existed.
        for optional in ("hdr", "aud", "fam"):
            if getattr(self, optional) is not None:
                data[optional] = getattr(self, optional)
        return data


@dataclass(frozen=True)
class Minted:
    token: str
    jti: str
    header_secret: str | None
    """The X-AAI-MCP-Secret value; exists only here, so show it once and forget it."""
    claims: Claims


def mint(
    secret: bytes,
    *,
    name: str,
    scopes: Scopes,
    expires_at: float | None,
    account: str = "default",
    require_header: bool = False,
    issued_at: float | None = None,
    audience: str | None = None,
    family: str | None = None,
) -> Minted:
    """A new token signed with `secret`. Raises ValueError for a short secret or a past expiry."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"a signing secret must be at least {MIN_SECRET_BYTES} bytes")
    now = time.time() if issued_at is None else issued_at
    if expires_at is not None and int(expires_at) <= int(now):
        raise ValueError("the expiry must be in the future")
    header_secret = token_urlsafe(32) if require_header else None
    claims = Claims(
        v=VERSION,
        jti=new_jti(),
        name=name,
        iat=int(now),
        exp=None if expires_at is None else int(expires_at),
        scopes=scopes,
        account=account,
        hdr=None if header_secret is None else _sha256(header_secret),
        aud=audience,
        fam=family,
    )
    encoded = json.dumps(claims.payload(), separators=(",", ":"), sort_keys=True).encode()
    body = f"{PREFIX}.{_b64encode(encoded)}"
    return Minted(f"{body}.{_sign(secret, body)}", claims.jti, header_secret, claims)


def verify(
    token: str,
    secrets: Sequence[bytes],
    now: float,
    revoked: Container[str],
    header_secret: str | None,
) -> Claims:
    """The token's claims if every check passes, else TokenError naming the first that failed."""
    claims = check_signature(token, secrets)
    # The header is part of proving possession, so it is checked before telling the caller
    # anything about the token's state: a token leaked through a URL reveals nothing more.
    _check_header(claims, header_secret)
    if claims.jti in revoked:
        raise TokenError("revoked", f"token {claims.jti} has been revoked")
    if claims.exp is not None and claims.expired(now):
        raise TokenError("expired", f"token {claims.jti} expired at {format_time(claims.exp)}")
    return claims


def check_signature(token: str, secrets: Sequence[bytes]) -> Claims:
    """The claims of a token signed by any of `secrets` (rotation); expiry and revocation unchecked."""
    body, signature = _split(token)
    # Every secret is tried, so the time taken does not say which one (if any) matched.
    matches = [hmac.compare_digest(_sign(secret, body), signature) for secret in secrets]
    if not any(matches):
        raise TokenError(
            "bad_signature", "the token's signature is not valid: it was altered or not issued here"
        )
    return _claims(body)


def inspect(token: str) -> Claims:
    """The claims a token carries WITHOUT checking its signature: anyone can write these."""
    body, _ = _split(token)
    return _claims(body)


def new_jti() -> str:
    return "tok_" + base64.b32encode(token_bytes(8)).decode()[:12].lower()


def format_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_header(claims: Claims, header_secret: str | None) -> None:
    if claims.hdr is None:
        return
    if not header_secret:
        raise TokenError("header_missing", f"this token also requires the {HEADER_NAME} header")
    if not hmac.compare_digest(_sha256(header_secret), claims.hdr):
        raise TokenError("header_wrong", f"the {HEADER_NAME} header does not match this token")


def _split(token: str) -> tuple[str, str]:
    if len(token) > MAX_TOKEN_CHARS:
        raise _malformed(f"it is longer than {MAX_TOKEN_CHARS} characters")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise _malformed(f"expected {PREFIX}.<payload>.<signature>")
    if not all(_SEGMENT.fullmatch(part) for part in parts[1:]) or len(parts[2]) != _SIGNATURE_CHARS:
        raise _malformed("the payload or signature is not unpadded base64url of the right length")
    return f"{parts[0]}.{parts[1]}", parts[2]


def _claims(body: str) -> Claims:
    try:
        data = json.loads(_b64decode(body.split(".", 1)[1]))
        return Claims.model_validate(data)
    except ValidationError as exc:
        raise _malformed(_retired_classes(exc) or "its payload is not valid claims") from None
    # ValueError covers bad base64, bad UTF-8, bad JSON and failed validation; deep nesting in an
    # unverified payload (inspect) must not crash either.
    except (ValueError, RecursionError):
        raise _malformed("its payload is not valid claims") from None


def _retired_classes(exc: ValidationError) -> str | None:
    """Tokens minted before method classes named effects: say so, so their owner knows to re-mint."""
    retired = sorted(
        {
            str(error["input"])
            for error in exc.errors()
            if error["loc"][:2] == ("scopes", "methods")
            and isinstance(error["input"], str)
            and error["input"] in RETIRED_CLASSES
        }
    )
    if not retired:
        return None
    return (
        f"its scopes name the retired method class(es) {', '.join(retired)}; mint a new token whose "
        f"--methods name effects ({', '.join(METHOD_CLASSES)})"
    )


def _malformed(detail: str) -> TokenError:
    return TokenError("malformed", f"the token is malformed: {detail}")


def _sign(secret: bytes, body: str) -> str:
    # Compared as text, not decoded bytes: base64 has spare bits, and a second spelling of the
    # same signature must not verify.
    return _b64encode(hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest())


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
