"""The one-call API every producer uses: `Deliveries.enqueue_delivery(kind, id, payload)` records an
event for every configured destination (nothing when none is). The archive calls `on_archived` inside
its own upsert's transaction, so backfill, sync and webhook capture all enqueue each newly archived
transcript, exactly when it is stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from aai_mcp.config.settings import Settings
from aai_mcp.delivery.destinations import Destination, parse_destinations
from aai_mcp.delivery.retry_policy import RetryPolicy

if TYPE_CHECKING:  # SQL-backed: imported where used, so `serve` without a store never loads SQLAlchemy
    import sqlalchemy as sa

    from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
    from aai_mcp.state.delivery_outbox import DeliveryOutbox
    from aai_mcp.state.extraction_store import ExtractionStore, StoredExtraction

TRANSCRIPT_ARCHIVED = "transcript.archived"
EXTRACTION_COMPLETED = "extraction.completed"
# What a receiver gets of a transcript: its metadata, text and utterances (each without its words,
# the bulk of a transcript); the full transcript stays in the archive.
_TRANSCRIPT_FIELDS = (
    "transcript_id", "account", "status", "created_at", "completed_at", "audio_duration",
    "language_code", "speech_model", "audio_hash", "text", "request_config",
)  # fmt: skip


def transcript_payload(transcript: ArchivedTranscript) -> dict[str, Any]:
    payload = {name: getattr(transcript, name) for name in _TRANSCRIPT_FIELDS}
    payload["utterances"] = [
        {k: v for k, v in utterance.items() if k != "words"} for utterance in transcript.utterances or []
    ]
    return payload


@dataclass(frozen=True)
class Deliveries:
    """Enqueue deliveries to the configured destinations (names only: URLs and secrets are the worker's)."""

    outbox: DeliveryOutbox
    destinations: tuple[str, ...]

    def enqueue_delivery(
        self, kind: str, subject_id: str, payload: Any, connection: sa.Connection | None = None
    ) -> str | None:
        """Deliver `payload` (JSON-able) as a `kind` event about `subject_id` to every destination;
        the event id, None when no destination is configured or the subject was enqueued before. For
        extraction results: kind "extraction.completed", subject_id "<transcript id>:<kit>:<version>"
        (a new version when the result changes), payload the stored result. With `connection`, inside
        the caller's transaction (the one that stores the result), so neither is kept without the other."""
        if connection is not None:
            return self.outbox.enqueue_in(connection, kind, subject_id, payload, self.destinations)
        return self.outbox.enqueue(kind, subject_id, payload, self.destinations)

    def on_archived(self, connection: sa.Connection, transcript: ArchivedTranscript) -> None:
        """ArchiveStore's hook for a newly archived transcript (inside its upsert's transaction)."""
        payload = transcript_payload(transcript)
        self.outbox.enqueue_in(
            connection, TRANSCRIPT_ARCHIVED, transcript.transcript_id, payload, self.destinations
        )

    def on_extracted(self, connection: sa.Connection, result: StoredExtraction) -> None:
        """ExtractionStore's hook for a stored result (inside its save's transaction): delivered
        once per version, so a re-run that changes nothing is not sent again."""
        payload = asdict(result)
        self.outbox.enqueue_in(
            connection, EXTRACTION_COMPLETED, extraction_subject(result), payload, self.destinations
        )


def extraction_subject(result: StoredExtraction) -> str:
    """ "<transcript id>:<kit>:<version>", the version a digest of what the result says."""
    said = json.dumps([result.account, result.kit_digest, result.text_digest, result.fields], sort_keys=True)
    version = hashlib.sha256(said.encode()).hexdigest()[:16]
    return f"{result.transcript_id}:{result.kit}:{version}"


def configured_destinations(
    settings: Settings, env: Mapping[str, str] | None = None
) -> dict[str, Destination]:
    """The destinations of `delivery_destinations` (DestinationError when an entry is wrong)."""
    text = settings.delivery_destinations
    return parse_destinations(text.get_secret_value() if text else None, os.environ if env is None else env)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.delivery_max_attempts, settings.delivery_retry_seconds)


def deliveries_of(engine: sa.Engine, settings: Settings, env: Mapping[str, str] | None = None) -> Deliveries:
    from aai_mcp.state.delivery_outbox import DeliveryOutbox

    return Deliveries(DeliveryOutbox(engine), tuple(configured_destinations(settings, env)))


def archive_store_of(
    engine: sa.Engine, settings: Settings, env: Mapping[str, str] | None = None
) -> ArchiveStore:
    """The archive on `engine`, enqueueing a delivery of each newly archived transcript (the one way
    commands and the server open it, so no capture path forgets to)."""
    from aai_mcp.state.archive_store import ArchiveStore

    return ArchiveStore(engine, on_new=deliveries_of(engine, settings, env).on_archived)


def extraction_store_of(
    engine: sa.Engine, settings: Settings, env: Mapping[str, str] | None = None
) -> ExtractionStore:
    """The extraction results on `engine`, enqueueing a delivery of each new or changed result (the one
    way the tool and `archive extract` open them)."""
    from aai_mcp.state.extraction_store import ExtractionStore

    return ExtractionStore(engine, on_saved=deliveries_of(engine, settings, env).on_extracted)
