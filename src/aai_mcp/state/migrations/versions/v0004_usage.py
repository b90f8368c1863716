"""Usage per team and the transcription jobs each team has running: what the quotas read and
`aai-mcp usage` shows.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("resource_id", sa.String(500), nullable=True, unique=True),
        sa.Column("quantity", sa.Float, nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=True),
        sa.Column("completion_tokens", sa.BigInteger, nullable=True),
        sa.Column("recorded_at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("usage_records_by_account_time", "usage_records", ["account", "recorded_at"])
    op.create_table(
        "transcript_jobs",
        sa.Column("transcript_id", sa.String(500), primary_key=True),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_index("transcript_jobs_by_account", "transcript_jobs", ["account", "finished_at"])


def downgrade() -> None:
    op.drop_index("transcript_jobs_by_account", "transcript_jobs")
    op.drop_table("transcript_jobs")
    op.drop_index("usage_records_by_account_time", "usage_records")
    op.drop_table("usage_records")
