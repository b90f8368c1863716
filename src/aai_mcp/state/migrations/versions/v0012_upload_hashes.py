"""The audio hash of every upload that went through aai-mcp (upload_url -> SHA-256 of its bytes), so
a transcript made from that upload is archived with its audio's hash and the duplicates report can
group transcripts of the same audio. And the key whose list showed each pending transcript (a sync
per configured key: archive/sources.py), NULL for the server's own key.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
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
    op.add_column("archive_pending", sa.Column("source", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("archive_pending", "source")
    op.drop_table("upload_hashes")
