"""Delivery to configured destinations: the events to deliver (payload kept once) and the outbox, one
row per event and destination with its state (pending, delivered, dead), tries and lease.

Self-contained on purpose (no import from store_schema).

Revision ID: 0009
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "delivery_events",
        sa.Column("event_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("kind", "subject_id", name="uq_delivery_events_subject"),
    )
    op.create_table(
        "delivery_outbox",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(40), sa.ForeignKey("delivery_events.event_id"), nullable=False),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("lease_holder", sa.String(200), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.UniqueConstraint("event_id", "destination", name="uq_delivery_outbox_event_destination"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_delivery_outbox_due", "delivery_outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_outbox_due", table_name="delivery_outbox")
    op.drop_table("delivery_outbox")
    op.drop_table("delivery_events")
