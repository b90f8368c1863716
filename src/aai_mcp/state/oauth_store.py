"""The OAuth authorization server's rows: registered clients, requests waiting for consent, grants and
single-use codes. Codes are kept only as their SHA-256 (a backup of the table holds no credential).
Calls block: run them in a thread."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from aai_mcp.state.store_schema import oauth_clients, oauth_codes, oauth_grants, oauth_requests


@dataclass(frozen=True)
class PendingRequest:
    request_id: str
    client_id: str
    params: dict[str, Any]
    """The SDK's AuthorizationParams as JSON."""
    expires_at: float


@dataclass(frozen=True)
class Grant:
    grant_id: str
    client_id: str
    subject: str
    scopes: list[str]
    resource: str
    account: str = "default"
    expires_at: float | None = None
    """The grant's end: no token issued for it is valid after this."""


@dataclass(frozen=True)
class CodeRow:
    """An unused code's row, with the grant it was issued for."""

    grant: Grant
    redirect_uri: str
    redirect_uri_explicit: bool
    code_challenge: str
    expires_at: float


def hashed(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """256 random bits, URL-safe (codes, request ids: more than the 160 bits RFC 6749 asks for)."""
    return secrets.token_urlsafe(32)


class OAuthRecords:
    """The oauth_* tables on one engine (the platform store's)."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def save_client(
        self, client_id: str, client_info: dict[str, Any], secret_hash: str | None = None
    ) -> None:
        """`client_info` without its secret; a confidential client's secret as `secret_hash` only."""
        with self.engine.begin() as connection:
            connection.execute(
                oauth_clients.insert().values(
                    client_id=client_id,
                    client_info=client_info,
                    created_at=self.clock(),
                    client_secret_hash=secret_hash,
                )
            )

    def client_secret_hash(self, client_id: str) -> str | None:
        query = sa.select(oauth_clients.c.client_secret_hash).where(oauth_clients.c.client_id == client_id)
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one_or_none()

    def client(self, client_id: str) -> dict[str, Any] | None:
        query = sa.select(oauth_clients.c.client_info).where(oauth_clients.c.client_id == client_id)
        with self.engine.connect() as connection:
            info = connection.execute(query).scalar_one_or_none()
        return None if info is None else dict(info)

    def save_request(self, client_id: str, params: dict[str, Any], ttl_seconds: float) -> str:
        """A new request waiting for consent; the ones nobody decided in time, and expired codes, are
        dropped on the way (each new request prunes, so the tables stay as small as the traffic)."""
        request_id = new_secret()
        now = self.clock()
        with self.engine.begin() as connection:
            connection.execute(oauth_requests.delete().where(oauth_requests.c.expires_at <= now))
            # Past its expiry a code is refused whether or not its row is there.
            connection.execute(oauth_codes.delete().where(oauth_codes.c.expires_at <= now))
            connection.execute(
                oauth_requests.insert().values(
                    request_id=request_id,
                    client_id=client_id,
                    params=params,
                    expires_at=now + ttl_seconds,
                )
            )
        return request_id

    def pending(self, request_id: str) -> PendingRequest | None:
        """A request still waiting for consent (None once expired or decided)."""
        query = sa.select(oauth_requests).where(
            (oauth_requests.c.request_id == request_id) & (oauth_requests.c.expires_at > self.clock())
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        return PendingRequest(row["request_id"], row["client_id"], dict(row["params"]), row["expires_at"])

    def take_request(self, request_id: str) -> bool:
        """Decide a request: True for exactly one caller (a consent form posted twice decides once)."""
        statement = oauth_requests.delete().where(
            (oauth_requests.c.request_id == request_id) & (oauth_requests.c.expires_at > self.clock())
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def grant_with_code(
        self, grant: Grant, code: str, *, redirect_uri: str, explicit: bool, challenge: str, ttl: float
    ) -> None:
        now = self.clock()
        with self.engine.begin() as connection:
            connection.execute(
                oauth_grants.insert().values(
                    grant_id=grant.grant_id,
                    client_id=grant.client_id,
                    subject=grant.subject,
                    scopes=grant.scopes,
                    resource=grant.resource,
                    created_at=now,
                    account=grant.account,
                    expires_at=grant.expires_at,
                )
            )
            connection.execute(
                oauth_codes.insert().values(
                    code_hash=hashed(code),
                    grant_id=grant.grant_id,
                    client_id=grant.client_id,
                    redirect_uri=redirect_uri,
                    redirect_uri_explicit=explicit,
                    code_challenge=challenge,
                    expires_at=now + ttl,
                )
            )

    def code(self, code: str, client_id: str) -> CodeRow | None:
        """An unused code of `client_id` (expired ones too: the token endpoint says so itself)."""
        query = (
            # Both tables have expires_at: the grant's is selected under its own name.
            sa.select(
                oauth_codes,
                *(c for c in oauth_grants.c if c.name != "expires_at"),
                oauth_grants.c.expires_at.label("grant_expires_at"),
            )
            .join(oauth_grants, oauth_grants.c.grant_id == oauth_codes.c.grant_id)
            .where(
                (oauth_codes.c.code_hash == hashed(code))
                & (oauth_codes.c.client_id == client_id)
                & oauth_codes.c.used_at.is_(None)
                & oauth_grants.c.revoked_at.is_(None)
            )
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        grant = Grant(
            row["grant_id"], row["client_id"], row["subject"], list(row["scopes"]), row["resource"],
            row["account"], row["grant_expires_at"],
        )  # fmt: skip
        return CodeRow(
            grant, row["redirect_uri"], row["redirect_uri_explicit"], row["code_challenge"], row["expires_at"]
        )

    def grants_listed(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Every grant, newest first, with its client's name (never a secret: the client's metadata
        stays in its row), for the operator's listing (the admin API)."""
        query = (
            sa.select(
                oauth_grants,
                oauth_clients.c.client_info["client_name"].as_string().label("client_name"),
            )
            .join(oauth_clients, oauth_clients.c.client_id == oauth_grants.c.client_id, isouter=True)
            .order_by(oauth_grants.c.created_at.desc(), oauth_grants.c.grant_id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]
