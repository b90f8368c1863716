"""The archive's incremental sync: the transcripts it saw queued or processing (to store once they
finish), and store leases (one named holder at a time, with an expiry) so two syncs never run at once.

Self-contained on purpose (no import from store_schema).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_pending",
        sa.Column("transcript_id", sa.String(100), primary_key=True),
        sa.Column("seen_at", sa.Float, nullable=False),
    )
    op.create_table(
        "store_leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_leases")
    op.drop_table("archive_pending")
