"""Upload links: one row per one-time link a person opens to send a file, and how its upload went,
so any instance serves the link and any instance answers about it.

Revision ID: 0011
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload_links",
        sa.Column("link_id", sa.String(64), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("max_bytes", sa.BigInteger, nullable=False),
        sa.Column("bytes_received", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("upload_url", sa.String(500), nullable=True),
        sa.Column("failure", sa.String(500), nullable=True),
    )
    op.create_index("upload_links_by_expiry", "upload_links", ["expires_at"])


def downgrade() -> None:
    op.drop_index("upload_links_by_expiry", "upload_links")
    op.drop_table("upload_links")
