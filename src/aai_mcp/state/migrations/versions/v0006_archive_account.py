"""The archive records whose transcript each row is (the account whose key made it), so a caller
searches and reads only its own account's transcripts. Rows archived before this (backfills with the
server's key) belong to the default account.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# Plain ALTERs, not a batch: SQLite's batch mode copies the table, which would drop the triggers that
# keep its full-text index in step (migration 0003).
def upgrade() -> None:
    op.add_column(
        "archived_transcripts",
        sa.Column("account", sa.String(200), nullable=False, server_default="default"),
    )
    op.create_index("ix_archived_transcripts_account", "archived_transcripts", ["account", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_archived_transcripts_account", table_name="archived_transcripts")
    op.drop_column("archived_transcripts", "account")
