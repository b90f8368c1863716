"""MCP Tasks (issue 18): one row per task-augmented tool call, so any instance can answer for it and
resume it after the instance running it stopped.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mcp_tasks",
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("own_key", sa.Boolean, nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("arguments_digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_message", sa.String(1000), nullable=True),
        sa.Column("progress", sa.Float, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("transcript_id", sa.String(100), nullable=True),
        sa.Column("instance", sa.String(64), nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("ttl_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("mcp_tasks_by_principal", "mcp_tasks", ["principal", "created_at"])
    op.create_index("mcp_tasks_by_expiry", "mcp_tasks", ["expires_at"])


def downgrade() -> None:
    op.drop_index("mcp_tasks_by_expiry", table_name="mcp_tasks")
    op.drop_index("mcp_tasks_by_principal", table_name="mcp_tasks")
    op.drop_table("mcp_tasks")
