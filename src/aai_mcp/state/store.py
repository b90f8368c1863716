"""The durable store's interface: what the domain needs from it, in the domain's words, not SQL.

Today that is token revocation. A feature that needs durable state adds methods here, their SQL in
store_sql.py, and a migration in migrations/versions/.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class RevokedSince:
    """Token ids revoked after a cursor, and the cursor to ask with next time."""

    ids: frozenset[str]
    cursor: int


@dataclass(frozen=True)
class KeyState:
    """An upstream key's shared state: cooling down until a time, or taken out by a 401/403."""

    name: str
    cooling_until: float | None = None
    disabled_reason: str | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_reason is not None


class Store(Protocol):
    """Durable state shared by every instance (SQLite on one machine, PostgreSQL for several)."""

    @property
    def engine_name(self) -> str:
        """sqlite or postgresql."""

    @property
    def shown(self) -> str:
        """Where the store is, safe to print: the SQLite path or the URL without its password."""

    def revoke_token(
        self, token_id: str, *, reason: str | None = None, expires_at: float | None = None
    ) -> bool:
        """Record the revocation of `token_id`; False when it was already revoked.

        `expires_at` is the token's own expiry, when known (after it the record serves no purpose)."""

    def revoked_since(self, cursor: int) -> RevokedSince:
        """Ids revoked after `cursor` (0: every id), in the order they were revoked."""

    def is_revoked(self, token_id: str) -> bool: ...

    def schema_version(self) -> str | None: ...

    def close(self) -> None: ...


class KeyPoolStore(Protocol):
    """What the upstream key pool keeps in the store so every instance agrees (SqlStore has it)."""

    def key_states(self) -> dict[str, KeyState]:
        """Every upstream key that has a recorded state, by name (keys never seen are usable)."""

    def cool_key(self, name: str, until: float) -> None:
        """Keep `name` out of use until `until` (a 429's Retry-After); never shortens a cooldown."""

    def disable_key(self, name: str, reason: str) -> None:
        """Take `name` out of use until `enable_key` (upstream refused it: 401/403)."""

    def enable_key(self, name: str) -> bool:
        """Put `name` back in use, cooldown and disablement cleared; False when it had no state."""

    def record_resource_key(self, resource_ids: list[str], name: str) -> None:
        """Resources (upload URLs, transcript ids) made with key `name`; a later record wins."""

    def resource_key(self, resource_id: str) -> str | None:
        """The name of the key that made `resource_id`, or None when unknown."""


UsageKind = Literal["audio", "llm", "stream", "clip", "speech"]


@dataclass(frozen=True)
class UsageTotals:
    """What one team used over a period."""

    account: str
    audio_seconds: float = 0.0
    transcripts: int = 0
    llm_tokens: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stream_seconds: float = 0.0
    streams: int = 0
    clip_seconds: float = 0.0
    """Audio of Sync and Dictation requests (billed per request, no transcript id)."""
    clips: int = 0
    tts_characters: int = 0


class UsageStore(Protocol):
    """Usage per team and the transcription jobs each has open (SqlStore has it)."""

    def record_usage(
        self,
        account: str,
        kind: UsageKind,
        quantity: float,
        *,
        resource_id: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> bool:
        """Record one use; False when `resource_id` was recorded before (by any instance)."""

    def record_transcript(self, transcript_id: str, reader: str, audio_seconds: float) -> str | None:
        """A completed transcript's audio, charged to the team that created the job when known (else
        to `reader`, whose answer showed it completed); the team charged, None when counted before."""

    def usage_totals(self, since: float, account: str | None = None) -> list[UsageTotals]:
        """Each team's totals since `since` (epoch seconds), by team name; one team's when given."""

    def open_job(self, transcript_id: str, account: str) -> None:
        """A transcription job `account` created (counted by `open_jobs` until it is finished)."""

    def finish_jobs(self, transcript_ids: list[str]) -> None:
        """Jobs seen completed or failed, or deleted: no longer counted."""

    def open_jobs(self, account: str, since: float) -> int:
        """Jobs of `account` created after `since` and not finished."""


class GatewayStore(KeyPoolStore, UsageStore, Protocol):
    """Everything a serving gateway keeps in the store."""


def failure_reason(exc: BaseException) -> str:
    """A database error in one line: the driver's own first line (refused, timeout, authentication
    failed), not SQLAlchemy's, which adds the SQL and a link."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines()[0][:300] if text else "") or type(exc).__name__
