"""The transcript archive: every archived transcript once (by id), the backfill runs' checkpoints,
and full-text search over the text (SQLite FTS5 kept in step by triggers; PostgreSQL a generated
tsvector with a GIN index).

Self-contained on purpose (no import from store_schema): a migration must create what it created
the day it was written, whatever the queries' schema says later.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# External content: the index holds no copy of the text, only postings; the triggers keep it in
# step with every insert, update and delete of archived_transcripts (rowid = seq, which VACUUM keeps).
_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE archived_transcripts_fts USING fts5("
    "text, content='archived_transcripts', content_rowid='seq', tokenize='porter unicode61')",
    "CREATE TRIGGER archived_transcripts_ai AFTER INSERT ON archived_transcripts BEGIN "
    "INSERT INTO archived_transcripts_fts(rowid, text) VALUES (new.seq, coalesce(new.text, '')); END",
    "CREATE TRIGGER archived_transcripts_ad AFTER DELETE ON archived_transcripts BEGIN "
    "INSERT INTO archived_transcripts_fts(archived_transcripts_fts, rowid, text) "
    "VALUES ('delete', old.seq, coalesce(old.text, '')); END",
    "CREATE TRIGGER archived_transcripts_au AFTER UPDATE ON archived_transcripts BEGIN "
    "INSERT INTO archived_transcripts_fts(archived_transcripts_fts, rowid, text) "
    "VALUES ('delete', old.seq, coalesce(old.text, '')); "
    "INSERT INTO archived_transcripts_fts(rowid, text) VALUES (new.seq, coalesce(new.text, '')); END",
)
_POSTGRES_SEARCH = (
    "ALTER TABLE archived_transcripts ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', coalesce(text, ''))) STORED",
    "CREATE INDEX ix_archived_transcripts_search ON archived_transcripts USING gin (search_vector)",
)


def upgrade() -> None:
    op.create_table(
        "archived_transcripts",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("transcript_id", sa.String(100), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.Float, nullable=True),
        sa.Column("completed_at", sa.Float, nullable=True),
        sa.Column("audio_duration", sa.Integer, nullable=True),
        sa.Column("language_code", sa.String(20), nullable=True),
        sa.Column("speech_model", sa.String(100), nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("utterances", sa.JSON, nullable=True),
        sa.Column("words", sa.JSON, nullable=True),
        sa.Column("sentences", sa.JSON, nullable=True),
        sa.Column("paragraphs", sa.JSON, nullable=True),
        sa.Column("srt", sa.Text, nullable=True),
        sa.Column("vtt", sa.Text, nullable=True),
        sa.Column("request_config", sa.JSON, nullable=False),
        sa.Column("audio_hash", sa.String(100), nullable=True, index=True),
        sa.Column("first_seen_at", sa.Float, nullable=False),
        sa.Column("last_synced_at", sa.Float, nullable=False),
        sa.Column("upstream_deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_archived_transcripts_created_at", "archived_transcripts", ["created_at"])
    op.create_table(
        "archive_runs",
        sa.Column("run_key", sa.String(64), primary_key=True),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("cursor_id", sa.String(100), nullable=True),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("archived", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    search = _POSTGRES_SEARCH if op.get_bind().dialect.name == "postgresql" else _SQLITE_SEARCH
    for statement in search:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS archived_transcripts_{trigger}")
        op.execute("DROP TABLE IF EXISTS archived_transcripts_fts")
    op.drop_table("archive_runs")
    op.drop_index("ix_archived_transcripts_created_at", "archived_transcripts")
    op.drop_table("archived_transcripts")
