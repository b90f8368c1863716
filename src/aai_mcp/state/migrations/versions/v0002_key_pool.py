"""The key pool's shared memory: each upstream key's state (cooling down, taken out) and which key
made each AssemblyAI resource (upload URL, transcript id), so every instance follows up with it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_keys",
        sa.Column("key_name", sa.String(200), primary_key=True),
        sa.Column("cooling_until", sa.Float, nullable=True),
        sa.Column("disabled_at", sa.Float, nullable=True),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
    )
    op.create_table(
        "resource_keys",
        sa.Column("resource_id", sa.String(500), primary_key=True),
        sa.Column("key_name", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("resource_keys")
    op.drop_table("upstream_keys")
