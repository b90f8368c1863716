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

# The transcript archive: one row per transcript id (an upsert never makes a second). Times are epoch
# seconds, as elsewhere in the store. Full-text search lives beside it per engine (migration 0003):
# SQLite's FTS5 table archived_transcripts_fts, PostgreSQL's generated column search_vector.
archived_transcripts = sa.Table(
    "archived_transcripts",
    metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("transcript_id", sa.String(100), nullable=False, unique=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", sa.Float, nullable=True, index=True),
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
    # Whose transcript it is (the account whose key made it, migration 0006): readers see only theirs.
    sa.Column("account", sa.String(200), nullable=False, server_default="default"),
    sa.Index("ix_archived_transcripts_account", "account", "created_at"),
    sqlite_autoincrement=True,
)

# The SHA-256 of each upload's bytes, computed while they streamed through aai-mcp to /v2/upload: a
# transcript whose audio_url is that upload_url is archived with it (migration 0012).
upload_hashes = sa.Table(
    "upload_hashes",
    metadata,
    sa.Column("upload_url", sa.String(1000), primary_key=True),
    sa.Column("audio_hash", sa.String(100), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
)

# One row per backfill (its filters hashed into run_key): the cursor of the last page fully stored,
# so a run stopped anywhere starts again from there.
archive_runs = sa.Table(
    "archive_runs",
    metadata,
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

# Transcripts a sync listed while queued or processing: the next sync stores them once finished.
archive_pending = sa.Table(
    "archive_pending",
    metadata,
    sa.Column("transcript_id", sa.String(100), primary_key=True),
    sa.Column("seen_at", sa.Float, nullable=False),
    # The key whose list showed it (migration 0012), which must fetch it; NULL: the server's own key.
    sa.Column("source", sa.String(200), nullable=True),
)

# One holder per name until expires_at (renewed while it works): a crashed holder's lease lapses.
store_leases = sa.Table(
    "store_leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

# Objects the migrations create for one engine only, which SQLAlchemy Core cannot describe: the
# schema comparison (tests/test_store.py, Alembic's autogenerate) leaves them out.
ENGINE_SPECIFIC_TABLE_PREFIX = "archived_transcripts_fts"
ENGINE_SPECIFIC_NAMES = frozenset({"search_vector", "ix_archived_transcripts_search"})


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Alembic's include_name hook: skip the engine-specific search objects before reflecting them."""
    if name is None:
        return True
    return not (name.startswith(ENGINE_SPECIFIC_TABLE_PREFIX) or name in ENGINE_SPECIFIC_NAMES)


def include_object(_object: object, name: str | None, type_: str, reflected: bool, _compare: object) -> bool:
    """Alembic's include_object hook: the same objects, for the kinds include_name never sees (columns)."""
    return include_name(name, type_, None)


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

# Delivery to configured destinations (migration 0009): one event per thing to deliver (a newly
# archived transcript, an extraction result) with its payload kept once, and one outbox row per event
# and destination with its state: pending (due at next_attempt_at, claimed by a worker's lease),
# delivered, or dead (the last try failed, or the receiver refused it for good; `archive redeliver`).
delivery_events = sa.Table(
    "delivery_events",
    metadata,
    sa.Column("event_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("subject_id", sa.String(200), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # One event per thing delivered: a transcript archived by two capture paths at once is sent once.
    sa.UniqueConstraint("kind", "subject_id", name="uq_delivery_events_subject"),
)
delivery_outbox = sa.Table(
    "delivery_outbox",
    metadata,
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
    sa.Index("ix_delivery_outbox_due", "state", "next_attempt_at"),
    sqlite_autoincrement=True,
)
# One-time upload links (migration 0011). The link's secret is kept only as its SHA-256: reading the
# table gives nobody a working link. `state`: waiting, receiving, done or failed (expiry is read from
# expires_at, never written).
upload_links = sa.Table(
    "upload_links",
    metadata,
    sa.Column("link_id", sa.String(64), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("max_bytes", sa.BigInteger, nullable=False),
    sa.Column("bytes_received", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("upload_url", sa.String(500), nullable=True),
    sa.Column("failure", sa.String(500), nullable=True),
    sa.Index("upload_links_by_expiry", "expires_at"),
)
# One structured extraction per (kit, transcript, account) (migration 0008), with the digests of what
# made it: the kit's instructions and schema, and the transcript's text. A run whose digests both
# match reuses the row; otherwise it is run again and the row replaced.
extraction_results = sa.Table(
    "extraction_results",
    metadata,
    sa.Column("kit", sa.String(100), primary_key=True),
    sa.Column("transcript_id", sa.String(100), primary_key=True),
    sa.Column("account", sa.String(200), primary_key=True),
    sa.Column("kit_digest", sa.String(64), nullable=False),
    sa.Column("text_digest", sa.String(64), nullable=False),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("verified_quotes", sa.Integer, nullable=False),
    sa.Column("unverified_quotes", sa.Integer, nullable=False),
    sa.Column("extracted_at", sa.Float, nullable=False),
)
# The built-in OAuth authorization server (migration 0013). Codes and refresh tokens are kept only as
# their SHA-256, like upload links: reading the tables (a backup, a replica) gives nobody a credential.
# A client registered by DCR (RFC 7591), its metadata as the SDK's OAuthClientInformationFull JSON.
oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("client_id", sa.String(200), primary_key=True),
    sa.Column("client_info", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # Migration 0014: a confidential client's secret as its SHA-256 only (never in client_info).
    sa.Column("client_secret_hash", sa.String(64), nullable=True),
    sa.Column("last_used_at", sa.Float, nullable=True),
)
# An authorization request waiting for the operator's consent (any instance may show the page).
oauth_requests = sa.Table(
    "oauth_requests",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
# What the operator approved for a client: the scopes and the resource its tokens are bound to.
oauth_grants = sa.Table(
    "oauth_grants",
    metadata,
    sa.Column("grant_id", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(200), nullable=False, index=True),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("resource", sa.String(1000), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
    # The upstream account its tokens use, and its end (chosen on the consent page; None: no end).
    sa.Column("account", sa.String(100), nullable=False, server_default="default"),
    sa.Column("expires_at", sa.Float, nullable=True),  # migration 0016
    sa.Column("last_used_at", sa.Float, nullable=True),  # migration 0014
)
# A single-use authorization code; used_at is set by the one exchange that wins.
oauth_codes = sa.Table(
    "oauth_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("grant_id", sa.String(64), nullable=False),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("redirect_uri", sa.String(2000), nullable=False),
    sa.Column("redirect_uri_explicit", sa.Boolean, nullable=False),
    sa.Column("code_challenge", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float, nullable=True),
)
# Refresh tokens by family (the grant): rotation marks the old one rotated_at; presenting a rotated
# one again revokes the family.
oauth_refresh_tokens = sa.Table(
    "oauth_refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("grant_id", sa.String(64), nullable=False, index=True),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("issued_at", sa.Float, nullable=False),
    sa.Column("rotated_at", sa.Float, nullable=True),
)
# The access tokens issued from a grant (migration 0014): revoking the grant revokes each of them
# (revoked_tokens) until it would have expired anyway.
oauth_grant_tokens = sa.Table(
    "oauth_grant_tokens",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("grant_id", sa.String(64), nullable=False, index=True),
    sa.Column("expires_at", sa.Float, nullable=False),
)
# Every access token issued (by `aai-mcp token mint` or the admin API; migration 0015): what it allows,
# who issued it, when it was last used. Never the token itself: it is signed, not looked up.
issued_tokens = sa.Table(
    "issued_tokens",
    metadata,
    sa.Column("token_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("header_required", sa.Boolean, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True, index=True),
    sa.Column("creator", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_used_at", sa.Float, nullable=True),
    sa.Column("revoked_at", sa.Float, nullable=True),
)
# MCP Tasks (migration 0017): a task-augmented tool call. `principal` is a digest of the caller's
# identity (tasks are seen only by it); the arguments are kept only as a digest (they may hold audio
# URLs with credentials); `instance` and `heartbeat_at` tell a stalled task from a running one.
mcp_tasks = sa.Table(
    "mcp_tasks",
    metadata,
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
    sa.Index("mcp_tasks_by_principal", "principal", "created_at"),
    sa.Index("mcp_tasks_by_expiry", "expires_at"),
)
