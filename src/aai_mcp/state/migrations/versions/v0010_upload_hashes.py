"""The audio hash of every upload that went through aai-mcp (upload_url -> SHA-256 of its bytes), so
a transcript made from that upload is archived with its audio's hash and the duplicates report can
group transcripts of the same audio.

Revision ID: 0010
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload_hashes",
        sa.Column("upload_url", sa.String(1000), primary_key=True),
        sa.Column("audio_hash", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("upload_hashes")
