"""The archived copy of one transcript as upstream would answer it, marked as coming from the
archive: what get_transcript, fetch and the transcript resources read before upstream."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore

RETENTION_DAYS = 90  # AssemblyAI deletes a transcript 90 days after it was created


async def archived_copy(
    archive: ArchiveStore | None, account: str, transcript_id: str
) -> dict[str, Any] | None:
    """The caller's account's archived transcript as upstream would answer it, marked; None without a
    store, when it is not archived, or when the archived copy is not completed (upstream knows more)."""
    if archive is None:
        return None
    # A database read: in a worker thread, so a slow store never stalls the event loop.
    kept = await anyio.to_thread.run_sync(lambda: archive.get(transcript_id, account=account))
    if kept is None or kept.status != "completed":
        return None
    return upstream_shape(kept)


def upstream_shape(kept: ArchivedTranscript) -> dict[str, Any]:
    payload: dict[str, Any] = {
        **kept.request_config,
        "id": kept.transcript_id,
        "status": kept.status,
        "text": kept.text,
        "utterances": kept.utterances,
        "words": kept.words,
        "audio_duration": kept.audio_duration,
        "language_code": kept.language_code,
        "speech_model_used": kept.speech_model,
        "created": iso_time(kept.created_at),
    }
    payload["archive"] = {
        "source": "archive",
        "upstream_deleted": kept.upstream_deleted,
        "expired": past_retention(kept.created_at),
    }
    return payload


def past_retention(created_at: float | None, now: float | None = None) -> bool:
    """Older than AssemblyAI's retention: upstream has deleted it, whether or not a sync saw that."""
    if created_at is None:
        return False
    return (time.time() if now is None else now) - created_at > RETENTION_DAYS * 86400


def iso_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
