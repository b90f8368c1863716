"""The store's tables as SQLAlchemy Core objects, for queries. The migrations create them: a change
here needs a new migration, and tests/test_store.py fails while the two differ."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite's INTEGER PRIMARY KEY is the row id; AUTOINCREMENT keeps it from reusing a deleted row's
# id, which a reader's cursor (the highest `seq` it has seen) relies on.
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revoked_tokens = sa.Table(
    "revoked_tokens",
    metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("token_id", sa.String(64), nullable=False, unique=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("revoked_at", sa.Float, nullable=False),
    # The token's own expiry, when known: after it the row could be dropped (the token is dead anyway).
    sa.Column("expires_at", sa.Float, nullable=True),
    sqlite_autoincrement=True,
)

# One row per upstream key that has had a state: cooling down after a 429 (until a time every
# instance compares with its own clock) or taken out after a 401/403 until an operator enables it.
upstream_keys = sa.Table(
    "upstream_keys",
    metadata,
    sa.Column("key_name", sa.String(200), primary_key=True),
    sa.Column("cooling_until", sa.Float, nullable=True),
    sa.Column("disabled_at", sa.Float, nullable=True),
    sa.Column("disabled_reason", sa.String(200), nullable=True),
)

# Which key made a resource (an upload URL, a transcript id): its follow-ups must use that key, since
# the resource belongs to that key's AssemblyAI account.
resource_keys = sa.Table(
    "resource_keys",
    metadata,
    sa.Column("resource_id", sa.String(500), primary_key=True),
    sa.Column("key_name", sa.String(200), nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
)

# What each team used, as counted from upstream's answers: audio seconds of a completed transcript
# (`resource_id` its id: unique, so a transcript is counted once whichever instance sees it), LLM
# Gateway tokens of one answer, seconds of one streaming session.
usage_records = sa.Table(
    "usage_records",
    metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("resource_id", sa.String(500), nullable=True, unique=True),
    sa.Column("quantity", sa.Float, nullable=False),
    sa.Column("prompt_tokens", sa.BigInteger, nullable=True),
    sa.Column("completion_tokens", sa.BigInteger, nullable=True),
    sa.Column("recorded_at", sa.Float, nullable=False),
    sa.Index("usage_records_by_account_time", "account", "recorded_at"),
    sqlite_autoincrement=True,
)

# Transcription jobs a team created through the proxy, until an answer shows them finished (or they
# are deleted): the concurrent-jobs quota counts the open ones.
transcript_jobs = sa.Table(
    "transcript_jobs",
    metadata,
    sa.Column("transcript_id", sa.String(500), primary_key=True),
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Index("transcript_jobs_by_account", "account", "finished_at"),
)
