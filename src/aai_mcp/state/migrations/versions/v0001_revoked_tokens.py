"""Revoked access tokens, read by every instance through a cursor (seq).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_tokens",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("token_id", sa.String(64), nullable=False, unique=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("revoked_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("revoked_tokens")
