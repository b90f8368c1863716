"""The archived copy of one transcript as upstream would answer it, marked as coming from the
archive: what get_transcript, fetch and the transcript resources read before upstream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore


def archived_copy(archive: ArchiveStore | None, account: str, transcript_id: str) -> dict[str, Any] | None:
    """The caller's account's archived transcript as upstream would answer it, marked; None without a
    store, when it is not archived, or when the archived copy is not completed (upstream knows more)."""
    if archive is None:
        return None
    kept = archive.get(transcript_id, account=account)
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
    payload["archive"] = {"source": "archive", "upstream_deleted": kept.upstream_deleted}
    return payload


def iso_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
