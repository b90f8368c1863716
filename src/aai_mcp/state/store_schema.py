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
