"""Structured extraction results: one row per kit, transcript and account, with the digests of the kit
and of the transcript text it was made from (a row is reused while both match).

Self-contained on purpose (no import from store_schema).

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extraction_results",
        sa.Column("kit", sa.String(100), primary_key=True),
        sa.Column("transcript_id", sa.String(100), primary_key=True),
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("kit_digest", sa.String(64), nullable=False),
        sa.Column("text_digest", sa.String(64), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("verified_quotes", sa.Integer, nullable=False),
        sa.Column("unverified_quotes", sa.Integer, nullable=False),
        sa.Column("extracted_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("extraction_results")
