"""Token families: every grant's refresh tokens (kept only as their SHA-256, rotated on each use) and
the access tokens issued from it. Revoking a family (reuse of a rotated refresh token, RFC 7009, the
operator) marks the grant revoked, drops its refresh tokens and writes each live access token's id to
revoked_tokens, which every instance follows (access/revocation_feed.py): one transaction, so a
family is never half revoked. Calls block: run them in a thread."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from aai_mcp.state.oauth_store import Grant, hashed, new_secret
from aai_mcp.state.store_schema import (
    oauth_clients,
    oauth_codes,
    oauth_grant_tokens,
    oauth_grants,
    oauth_refresh_tokens,
    revoked_tokens,
)


@dataclass(frozen=True)
class RefreshRow:
    """A refresh token's row with its grant (still unrevoked)."""

    grant: Grant
    expires_at: float | None
    rotated: bool
    """Already exchanged once: presenting it again is reuse."""


@dataclass(frozen=True)
class Issued:
    """An access token just minted from a grant: its id and expiry are recorded, to revoke it with the
    family; the token itself never is."""

    jti: str
    expires_at: float
    token: str = field(repr=False)


class TokenFamilies:
    """Refresh-token rotation and family revocation over the oauth_* tables and revoked_tokens."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def spend_code(self, code: str) -> Grant | None:
        """Spend an authorization code: its grant for exactly one caller, before it expires (one
        conditional UPDATE, so two instances exchanging the same code never both win)."""
        now = self.clock()
        spend = (
            oauth_codes.update()
            .where(
                (oauth_codes.c.code_hash == hashed(code))
                & oauth_codes.c.used_at.is_(None)
                & (oauth_codes.c.expires_at > now)
            )
            .values(used_at=now)
        )
        query = (
            sa.select(oauth_grants)
            .join(oauth_codes, oauth_codes.c.grant_id == oauth_grants.c.grant_id)
            .where((oauth_codes.c.code_hash == hashed(code)) & oauth_grants.c.revoked_at.is_(None))
        )
        with self.engine.begin() as connection:
            if connection.execute(spend).rowcount != 1:
                return None
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        return _grant(row, row["expires_at"])

    def start(self, grant: Grant, issued: Issued, refresh_ttl: float | None) -> str | None:
        """Record the code exchange's access token in its family, with the family's first refresh token
        unless `refresh_ttl` is None (the client did not register the refresh grant); the refresh
        token, or None. FamilyRevoked when the grant was revoked since the code was spent."""
        token = None if refresh_ttl is None else new_secret()
        with self.engine.begin() as connection:
            _lock_standing(connection, grant.grant_id)
            self._issue(connection, grant, issued, token, refresh_ttl or 0.0)
        return token

    def find(self, token: str, client_id: str) -> RefreshRow | None:
        """The refresh token of `client_id` (rotated ones too), while its grant stands."""
        query = (
            sa.select(
                oauth_refresh_tokens.c.expires_at,
                oauth_refresh_tokens.c.rotated_at,
                *[column for column in oauth_grants.c if column.name != "expires_at"],
                oauth_grants.c.expires_at.label("grant_expires_at"),
            )
            .join(oauth_grants, oauth_grants.c.grant_id == oauth_refresh_tokens.c.grant_id)
            .where(
                (oauth_refresh_tokens.c.token_hash == hashed(token))
                & (oauth_grants.c.client_id == client_id)
                & oauth_grants.c.revoked_at.is_(None)
            )
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        grant = _grant(row, row["grant_expires_at"])
        return RefreshRow(grant, row["expires_at"], row["rotated_at"] is not None)

    def rotate(self, token: str, grant: Grant, issued: Issued, refresh_ttl: float) -> str | None:
        """Spend `token` for a new one (returned); None when it was rotated already, has expired or its
        grant was revoked meanwhile. One conditional UPDATE: of two instances rotating the same token
        exactly one wins."""
        now = self.clock()
        spend = (
            oauth_refresh_tokens.update()
            .where(
                (oauth_refresh_tokens.c.token_hash == hashed(token))
                & (oauth_refresh_tokens.c.grant_id == grant.grant_id)
                & oauth_refresh_tokens.c.rotated_at.is_(None)
                & sa.or_(oauth_refresh_tokens.c.expires_at.is_(None), oauth_refresh_tokens.c.expires_at > now)
            )
            .values(rotated_at=now)
        )
        fresh = new_secret()
        try:
            with self.engine.begin() as connection:
                _lock_standing(connection, grant.grant_id)
                if connection.execute(spend).rowcount != 1:
                    raise FamilyRevoked  # lost the race: roll back (nothing was written)
                self._issue(connection, grant, issued, fresh, refresh_ttl)
        except FamilyRevoked:
            return None
        return fresh

    def issued_to(self, jti: str) -> str | None:
        """The client an access token was issued to from a grant (None: not an OAuth-issued one)."""
        query = (
            sa.select(oauth_grants.c.client_id)
            .join(oauth_grant_tokens, oauth_grant_tokens.c.grant_id == oauth_grants.c.grant_id)
            .where(oauth_grant_tokens.c.jti == jti)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one_or_none()

    def revoke_family(self, grant_id: str, reason: str) -> bool:
        """Revoke the grant, its refresh tokens and its live access tokens; False when it was revoked
        already (or never existed)."""
        now = self.clock()
        with self.engine.begin() as connection:
            _serialize_revocations(connection)
            revoked = connection.execute(
                oauth_grants.update()
                .where((oauth_grants.c.grant_id == grant_id) & oauth_grants.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            if revoked.rowcount != 1:
                return False
            live = connection.execute(
                sa.select(oauth_grant_tokens.c.jti, oauth_grant_tokens.c.expires_at).where(
                    (oauth_grant_tokens.c.grant_id == grant_id) & (oauth_grant_tokens.c.expires_at > now)
                )
            ).all()
            _record_revoked(connection, [(row.jti, row.expires_at) for row in live], reason, now)
            for table in (oauth_refresh_tokens, oauth_grant_tokens, oauth_codes):
                connection.execute(table.delete().where(table.c.grant_id == grant_id))
        return True

    def revoke_access(self, jti: str, expires_at: float, reason: str) -> None:
        """Revoke one access token (RFC 7009 on an access token: its family stands)."""
        with self.engine.begin() as connection:
            _serialize_revocations(connection)
            _record_revoked(connection, [(jti, expires_at)], reason, self.clock())

    def _issue(
        self, connection: sa.Connection, grant: Grant, issued: Issued, token: str | None, refresh_ttl: float
    ) -> None:
        now = self.clock()
        if token is not None:
            connection.execute(
                oauth_refresh_tokens.insert().values(
                    token_hash=hashed(token),
                    grant_id=grant.grant_id,
                    expires_at=now + refresh_ttl,
                    issued_at=now,
                )
            )
        connection.execute(
            oauth_grant_tokens.insert().values(
                jti=issued.jti, grant_id=grant.grant_id, expires_at=issued.expires_at
            )
        )
        # Dead rows go on the way, like codes: a rotated refresh token is kept (to detect its reuse)
        # only until it would have expired, an access token's id only until it has.
        connection.execute(oauth_grant_tokens.delete().where(oauth_grant_tokens.c.expires_at <= now))
        connection.execute(oauth_refresh_tokens.delete().where(oauth_refresh_tokens.c.expires_at <= now))
        connection.execute(
            oauth_grants.update().where(oauth_grants.c.grant_id == grant.grant_id).values(last_used_at=now)
        )
        connection.execute(
            oauth_clients.update()
            .where(oauth_clients.c.client_id == grant.client_id)
            .values(last_used_at=now)
        )


class FamilyRevoked(Exception):
    """The grant was revoked (or a rotation lost its race): the transaction is undone."""


def _lock_standing(connection: sa.Connection, grant_id: str) -> None:
    """FamilyRevoked unless the grant stands; on PostgreSQL its row stays locked to the end of the
    transaction, so a revocation running meanwhile waits, then sees (and revokes) what was issued."""
    standing = (
        sa.select(oauth_grants.c.grant_id)
        .where((oauth_grants.c.grant_id == grant_id) & oauth_grants.c.revoked_at.is_(None))
        .with_for_update()
    )
    if connection.execute(standing).first() is None:
        raise FamilyRevoked


def _serialize_revocations(connection: sa.Connection) -> None:
    # As SqlStore.revoke_token: on PostgreSQL one revoking writer at a time keeps commit order = seq
    # order, so no follower's cursor skips a row (SQLite has one writer anyway).
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("LOCK TABLE revoked_tokens IN SHARE ROW EXCLUSIVE MODE"))


def _record_revoked(
    connection: sa.Connection, tokens: Iterable[tuple[str, float]], reason: str, now: float
) -> None:
    wanted = dict(tokens)
    if not wanted:
        return
    known = set(
        connection.execute(
            sa.select(revoked_tokens.c.token_id).where(revoked_tokens.c.token_id.in_(list(wanted)))
        ).scalars()
    )
    rows = [
        {"token_id": jti, "reason": reason, "revoked_at": now, "expires_at": expires_at}
        for jti, expires_at in wanted.items()
        if jti not in known
    ]
    if rows:
        connection.execute(revoked_tokens.insert(), rows)


def _grant(row: sa.RowMapping, grant_expires_at: float | None) -> Grant:
    """A grant from its row (the grant's end passed apart: joined with a token row, both have one)."""
    return Grant(
        row["grant_id"],
        row["client_id"],
        row["subject"],
        list(row["scopes"]),
        row["resource"],
        row["account"],
        grant_expires_at,
    )
