"""OAuth tokens (issue 15 part 5): the access tokens issued from each grant (so revoking the grant's
family revokes them too), when a grant and a client were last used, and DCR client secrets kept only
as their SHA-256. Secrets stored in plain by 0013 are hashed here and removed from client_info.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("oauth_clients", sa.Column("client_secret_hash", sa.String(64), nullable=True))
    op.add_column("oauth_clients", sa.Column("last_used_at", sa.Float, nullable=True))
    op.add_column("oauth_grants", sa.Column("last_used_at", sa.Float, nullable=True))
    op.create_table(
        "oauth_grant_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("grant_id", sa.String(64), nullable=False, index=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    _hash_stored_secrets()


def _hash_stored_secrets() -> None:
    clients = sa.table(
        "oauth_clients",
        sa.column("client_id", sa.String),
        sa.column("client_info", sa.JSON),
        sa.column("client_secret_hash", sa.String),
    )
    connection = op.get_bind()
    for client_id, info in connection.execute(sa.select(clients.c.client_id, clients.c.client_info)).all():
        secret = dict(info).pop("client_secret", None)
        if not secret:
            continue
        kept = {key: value for key, value in dict(info).items() if key != "client_secret"}
        connection.execute(
            clients.update()
            .where(clients.c.client_id == client_id)
            .values(client_info=kept, client_secret_hash=hashlib.sha256(secret.encode()).hexdigest())
        )


def downgrade() -> None:
    # The plain secrets are gone: clients that had one register again after a downgrade.
    op.drop_table("oauth_grant_tokens")
    op.drop_column("oauth_grants", "last_used_at")
    op.drop_column("oauth_clients", "last_used_at")
    op.drop_column("oauth_clients", "client_secret_hash")
