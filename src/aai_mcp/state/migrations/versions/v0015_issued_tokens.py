"""A record of every access token issued (by `aai-mcp token mint` or the admin API): name, scopes,
account, expiry, creator, created, last used and revoked, never the token itself.

Revision ID: 0015
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_tokens",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("header_required", sa.Boolean, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True, index=True),
        sa.Column("creator", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_used_at", sa.Float, nullable=True),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("issued_tokens")
