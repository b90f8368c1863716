"""Transcript jobs: what was asked, when, and where each one is in its lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from .content import CallContent, ContentOptions, build_call
from .upload_route import UPLOAD_URL_PREFIX, UploadedFile, not_audio_error

DELETED_URL = "http://deleted_by_user"
UNREADABLE_SUFFIXES = {
    ".html": "text/html (HTML document, ASCII text, with very long lines)",
    ".htm": "text/html (HTML document, ASCII text, with very long lines)",
    ".txt": "text/plain (ASCII text)",
}


@dataclass
class TranscriptRecord:
    transcript_id: str
    sequence: int
    params: dict[str, Any]
    created_clock: float
    created_wall: datetime
    failure: str | None = None
    upload_id: str | None = None
    audio_ms: int | None = None
    """Length of the uploaded audio when its header told (WAV); the scripted call is fitted into it."""
    deleted: bool = False
    webhook_status_code: int | None = None
    """What the receiver answered the last webhook attempt (None: not sent, or no answer)."""
    _content: CallContent | None = field(default=None, repr=False)
    rendered: tuple[tuple[str, bool, int | None], bytes] | None = field(default=None, repr=False)
    """A finished transcript's JSON body as last sent, and the state it was rendered in (render.py)."""

    @property
    def audio_url(self) -> str:
        return str(self.params["audio_url"])

    def status_at(self, now: float, delay: float) -> str:
        """queued for the first third of the delay, processing until it ends, then terminal."""
        elapsed = now - self.created_clock
        if elapsed < delay / 3:
            return "queued"
        if elapsed < delay:
            return "processing"
        return "error" if self.failure else "completed"

    def completed_wall(self, delay: float) -> datetime:
        return self.created_wall + timedelta(seconds=delay)

    @property
    def content(self) -> CallContent:
        if self._content is None:
            self._content = build_call(self.transcript_id, content_options(self.params), self.audio_ms)
        return self._content


def content_options(params: dict[str, Any]) -> ContentOptions:
    policies = (params.get("redact_pii_policies") or []) if params.get("redact_pii") else []
    return ContentOptions(
        speaker_labels=bool(params.get("speaker_labels")),
        multichannel=bool(params.get("multichannel")),
        punctuate=params.get("punctuate", True) is not False,
        format_text=params.get("format_text", True) is not False,
        redact_policies=frozenset(policies),
        redact_sub=params.get("redact_pii_sub") or "hash",
    )


def upload_id_of(audio_url: str) -> str | None:
    if audio_url.startswith(UPLOAD_URL_PREFIX):
        return audio_url[len(UPLOAD_URL_PREFIX) :]
    return None


def download_failure(audio_url: str) -> str | None:
    """Why fetching a remote URL would fail, mimicking upstream's messages."""
    parts = urlsplit(audio_url)
    host = (parts.hostname or "").lower()
    if host.endswith(".invalid") or not host:
        return (
            f"Download error, unable to download {audio_url}. "
            "Please make sure the file exists and is accessible from the internet."
        )
    suffix = "." + parts.path.rsplit(".", 1)[-1].lower() if "." in parts.path else ""
    if suffix in UNREADABLE_SUFFIXES:
        return f"File does not appear to contain audio. File type is {UNREADABLE_SUFFIXES[suffix]}."
    return None


def uploaded_audio_ms(uploads: dict[str, UploadedFile], upload_id: str | None) -> int | None:
    upload = uploads.get(upload_id) if upload_id is not None else None
    return upload.audio_ms if upload is not None else None


def upload_failure(upload: UploadedFile) -> str | None:
    return None if upload.audio_container else not_audio_error(upload.head)


class TranscriptStore:
    """All transcripts of the simulated account, oldest first by creation sequence."""

    def __init__(self) -> None:
        self._records: dict[str, TranscriptRecord] = {}
        self._sequence = 0

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def add(self, record: TranscriptRecord) -> None:
        self._records[record.transcript_id] = record

    def get(self, transcript_id: str) -> TranscriptRecord | None:
        return self._records.get(transcript_id)

    def renumber(self) -> None:
        """Sequences in creation-time order again, after transcripts were added with past times."""
        ordered = sorted(self._records.values(), key=lambda r: (r.created_wall, r.sequence))
        for sequence, record in enumerate(ordered, start=1):
            record.sequence = sequence
        self._sequence = len(ordered)

    def newest_first(self) -> list[TranscriptRecord]:
        return sorted(self._records.values(), key=lambda r: r.sequence, reverse=True)

    def __len__(self) -> int:
        return len(self._records)

    def clear(self) -> None:
        self._records.clear()
        self._sequence = 0
