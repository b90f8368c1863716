"""`POST /v2/upload`: consume the body as a stream and sniff what kind of file it is."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .wav import WavProbe

UPLOAD_URL_PREFIX = "https://cdn.assemblyai.com/upload/"
HEAD_BYTES = 64
# Media types a client might send by mistake instead of the raw file bytes.
REJECTED_CONTENT_TYPES = ("multipart/", "application/json", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class UploadedFile:
    upload_id: str
    size: int
    sha256: str
    head: bytes
    max_chunk: int
    audio_ms: int | None = None
    """How long the audio plays, when its header says so (WAV); None otherwise."""

    @property
    def url(self) -> str:
        return UPLOAD_URL_PREFIX + self.upload_id

    @property
    def audio_container(self) -> str | None:
        return sniff_audio(self.head)


def sniff_audio(head: bytes) -> str | None:
    """The audio/video container the first bytes announce, or None if none matches."""
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI "):
        return "wav" if head[8:12] == b"WAVE" else "avi"
    if head.startswith(b"ID3"):
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mpeg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head.startswith(b"#!AMR"):
        return "amr"
    return None


def describe_file_type(head: bytes) -> str:
    """A `file`-style description for the error upstream gives on non-audio uploads."""
    if head.startswith(b"%PDF"):
        return "application/pdf (PDF document)"
    if head.startswith(b"\x89PNG"):
        return "image/png (PNG image data)"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg (JPEG image data)"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip (Zip archive data)"
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return "application/octet-stream (data)"
    stripped = text.lstrip().lower()
    if stripped.startswith(("<!doctype html", "<html")):
        return "text/html (HTML document, ASCII text)"
    if stripped.startswith(("{", "[")):
        return "application/json (JSON data)"
    return "text/plain (ASCII text)"


def not_audio_error(head: bytes) -> str:
    return f"File does not appear to contain audio. File type is {describe_file_type(head)}."


def rejected_content_type(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type.startswith(REJECTED_CONTENT_TYPES) or media_type.startswith("text/")


async def consume_upload(chunks: AsyncIterator[bytes], upload_id: str | None = None) -> UploadedFile:
    """Read the whole stream keeping only a count, a running hash, the first bytes and what the
    audio header says about its length."""
    digest = hashlib.sha256()
    wav = WavProbe()
    size = 0
    max_chunk = 0
    head = b""
    async for chunk in chunks:
        if not chunk:
            continue
        digest.update(chunk)
        size += len(chunk)
        max_chunk = max(max_chunk, len(chunk))
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        if not wav.done:
            wav.feed(chunk)
    return UploadedFile(
        upload_id=upload_id or str(uuid.uuid4()),
        size=size,
        sha256=digest.hexdigest(),
        head=head,
        max_chunk=max_chunk,
        audio_ms=wav.duration_ms(size) or None,  # no samples: nothing to fit the call into
    )
