"""What the operator sees of the OAuth authorization server (`aai-mcp oauth clients | grants`), and
removing a registration. Never a secret: client secrets, codes and refresh tokens are hashes in the
store, and none of those columns is read here. Calls block."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

from aai_mcp.state.oauth_families import TokenFamilies
from aai_mcp.state.store_schema import (
    oauth_clients,
    oauth_codes,
    oauth_grants,
    oauth_refresh_tokens,
    oauth_requests,
)


@dataclass(frozen=True)
class ClientRow:
    client_id: str
    name: str
    redirect_hosts: list[str]
    created_at: float
    last_used_at: float | None


@dataclass(frozen=True)
class GrantRow:
    grant_id: str
    client_id: str
    scopes: list[str]
    subject: str
    created_at: float
    last_used_at: float | None
    expires_at: float | None
    """When its newest refresh token expires (None: it holds none)."""
    revoked_at: float | None
    account: str = "default"
    """The upstream account its tokens use (chosen on the consent page)."""
    ends_at: float | None = None
    """The grant's own end, chosen on the consent page (None: none)."""


class OAuthRegistry:
    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def clients(self) -> list[ClientRow]:
        query = sa.select(
            oauth_clients.c.client_id,
            oauth_clients.c.client_info,
            oauth_clients.c.created_at,
            oauth_clients.c.last_used_at,
        ).order_by(oauth_clients.c.created_at)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            ClientRow(
                row.client_id,
                str(dict(row.client_info).get("client_name") or ""),
                _hosts(dict(row.client_info).get("redirect_uris") or []),
                row.created_at,
                row.last_used_at,
            )
            for row in rows
        ]

    def grants(self) -> list[GrantRow]:
        expiry = (
            sa.select(sa.func.max(oauth_refresh_tokens.c.expires_at))
            .where(
                (oauth_refresh_tokens.c.grant_id == oauth_grants.c.grant_id)
                & oauth_refresh_tokens.c.rotated_at.is_(None)
            )
            .scalar_subquery()
        )
        query = sa.select(
            oauth_grants.c.grant_id,
            oauth_grants.c.client_id,
            oauth_grants.c.scopes,
            oauth_grants.c.subject,
            oauth_grants.c.created_at,
            oauth_grants.c.last_used_at,
            expiry.label("expires_at"),
            oauth_grants.c.revoked_at,
            oauth_grants.c.account,
            oauth_grants.c.expires_at.label("ends_at"),
        ).order_by(oauth_grants.c.created_at)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            GrantRow(
                row.grant_id,
                row.client_id,
                list(row.scopes),
                row.subject,
                row.created_at,
                row.last_used_at,
                row.expires_at,
                row.revoked_at,
                row.account,
                row.ends_at,
            )
            for row in rows
        ]

    def remove_client(self, client_id: str) -> list[str] | None:
        """Revoke every grant a registration holds, then remove it; the grants' ids, or None when
        there is no such client. Grants first: a failure half-way leaves the client listed, so running
        the command again finishes the job."""
        known = sa.select(oauth_clients.c.client_id).where(oauth_clients.c.client_id == client_id)
        standing = sa.select(oauth_grants.c.grant_id).where(
            (oauth_grants.c.client_id == client_id) & oauth_grants.c.revoked_at.is_(None)
        )
        with self.engine.connect() as connection:
            if connection.execute(known).first() is None:
                return None
            grant_ids = list(connection.execute(standing).scalars())
        families = TokenFamilies(self.engine, self.clock)
        reason = f"oauth client {client_id[:40]} removed by the operator"
        revoked = [grant_id for grant_id in grant_ids if families.revoke_family(grant_id, reason)]
        with self.engine.begin() as connection:
            for table in (oauth_clients, oauth_requests, oauth_codes):
                connection.execute(table.delete().where(table.c.client_id == client_id))
        return revoked


def _hosts(redirect_uris: list[str]) -> list[str]:
    return sorted({urlsplit(str(uri)).netloc for uri in redirect_uris})
