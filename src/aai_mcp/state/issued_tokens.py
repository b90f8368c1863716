"""The record of every access token issued, by `aai-mcp token mint` or the admin API: what it allows,
who issued it, when, and when it was last used. The token itself is never stored: it is signed, so
checking it needs no row, and a copy of this table (a backup, a replica) gives nobody access.
Calls block: run them in a thread."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from aai_mcp.access.last_used import LAST_USED_RESOLUTION_SECONDS
from aai_mcp.access.scopes import Scopes
from aai_mcp.access.tokens import Claims, format_time
from aai_mcp.state.store_schema import issued_tokens, oauth_grant_tokens, revoked_tokens

MAX_CREATOR = 200
MAX_LISTED = 1000
# A revocation outlives its token's expiry by this much before it is dropped: an instance whose clock
# runs behind still sees the token as live for that long, and must still see it revoked.
REVOCATION_KEPT_PAST_EXPIRY_SECONDS = 3600.0


@dataclass(frozen=True)
class IssuedToken:
    """One issued token as the operator sees it (times in epoch seconds)."""

    token_id: str
    name: str
    scopes: Scopes
    account: str
    header_required: bool
    expires_at: float | None
    creator: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def state(self, now: float) -> str:
        return "revoked" if self.revoked_at else ("expired" if self.expired(now) else "active")

    def as_json(self, now: float) -> dict[str, Any]:
        """What the admin API and `token list --json` show: what it allows and its history, never the
        token (there is none to show: only its id is kept)."""
        return {
            "id": self.token_id,
            "name": self.name,
            "state": self.state(now),
            "scopes": self.scopes.model_dump(mode="json", exclude_none=True),
            "account": self.account,
            "header_required": self.header_required,
            "expires_at": _time(self.expires_at),
            "creator": self.creator,
            "created_at": _time(self.created_at),
            "last_used_at": _time(self.last_used_at),
            "revoked_at": _time(self.revoked_at),
        }


class IssuedTokens:
    """The issued_tokens table on one engine (the platform store's)."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def record(self, claims: Claims, creator: str) -> None:
        """Record a token just minted (its claims), issued by `creator` (who or what, for the listing)."""
        values: dict[str, Any] = {
            "token_id": claims.jti,
            "name": claims.name,
            "scopes": claims.scopes.model_dump(mode="json", exclude_none=True),
            "account": claims.account,
            "header_required": claims.hdr is not None,
            "expires_at": None if claims.exp is None else float(claims.exp),
            "creator": " ".join(creator.split())[:MAX_CREATOR] or "unknown",
            "created_at": float(claims.iat),
        }
        with self.engine.begin() as connection:
            connection.execute(issued_tokens.insert().values(**values))

    def listed(self, *, include_expired: bool = False, limit: int = MAX_LISTED) -> list[IssuedToken]:
        """The newest `limit` records first; expired ones only when asked for."""
        query = sa.select(issued_tokens).order_by(issued_tokens.c.created_at.desc(), issued_tokens.c.token_id)
        if not include_expired:
            column = issued_tokens.c.expires_at
            query = query.where(column.is_(None) | (column > self.clock()))
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).mappings().all()
        return [_issued(row) for row in rows]

    def get(self, token_id: str) -> IssuedToken | None:
        query = sa.select(issued_tokens).where(issued_tokens.c.token_id == token_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _issued(row)

    def mark_revoked(self, token_id: str) -> bool:
        """Note the revocation on the record (the store's revocations are what refuse the token);
        False when there is no such record or it was revoked before."""
        statement = (
            issued_tokens.update()
            .where((issued_tokens.c.token_id == token_id) & issued_tokens.c.revoked_at.is_(None))
            .values(revoked_at=self.clock())
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def mark_used(self, token_ids: Iterable[str], at: float) -> None:
        """Tokens seen in use at `at`; a record written less than a resolution ago is left alone, so
        several instances noting the same token cost one write a minute between them."""
        ids = sorted(set(token_ids))
        if not ids:
            return
        column = issued_tokens.c.last_used_at
        statement = (
            issued_tokens.update()
            .where(
                issued_tokens.c.token_id.in_(ids)
                & (column.is_(None) | (column < at - LAST_USED_RESOLUTION_SECONDS))
            )
            .values(last_used_at=at)
        )
        with self.engine.begin() as connection:
            connection.execute(statement)

    def prune(self) -> int:
        """Delete the records of tokens past their expiry (they are refused anyway); how many."""
        statement = issued_tokens.delete().where(
            issued_tokens.c.expires_at.is_not(None) & (issued_tokens.c.expires_at <= self.clock())
        )
        with self.engine.begin() as connection:
            return int(connection.execute(statement).rowcount)

    def prune_revocations(self) -> int:
        """Delete revocations of tokens whose expiry passed more than an hour ago (an expired token is
        refused anyway), and the list of a grant's issued access tokens past theirs; how many
        revocations. A revocation without a known expiry stays. Followers' cursors (the highest seq
        read) are unaffected: AUTOINCREMENT never hands a deleted seq out again."""
        cutoff = self.clock() - REVOCATION_KEPT_PAST_EXPIRY_SECONDS
        expired = revoked_tokens.c.expires_at.is_not(None) & (revoked_tokens.c.expires_at <= cutoff)
        with self.engine.begin() as connection:
            dropped = int(connection.execute(revoked_tokens.delete().where(expired)).rowcount)
            connection.execute(oauth_grant_tokens.delete().where(oauth_grant_tokens.c.expires_at <= cutoff))
        return dropped


def _issued(row: Any) -> IssuedToken:
    return IssuedToken(
        token_id=row["token_id"],
        name=row["name"],
        scopes=Scopes.model_validate(row["scopes"]),
        account=row["account"],
        header_required=bool(row["header_required"]),
        expires_at=row["expires_at"],
        creator=row["creator"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def _time(timestamp: float | None) -> str | None:
    return None if timestamp is None else format_time(timestamp)
