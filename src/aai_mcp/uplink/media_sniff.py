"""Whether a file's first bytes announce audio or video: checked on the bytes themselves, since a
browser's or curl's Content-Type says what the file is called, not what it holds."""

from __future__ import annotations

# Enough for every signature below (the longest reads 12 bytes; MP4's box type sits at 4..8).
HEAD_BYTES = 64


def media_container(head: bytes) -> str | None:
    """The audio/video container the first bytes announce, or None when none matches."""
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI "):
        return "wav" if head[8:12] == b"WAVE" else "avi"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[4:8] == b"ftyp":
        return "mp4"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mpeg"
    for prefix, name in _PREFIXES:
        if head.startswith(prefix):
            return name
    return None


_PREFIXES = (
    (b"ID3", "mp3"),
    (b"fLaC", "flac"),
    (b"OggS", "ogg"),
    (b"\x1a\x45\xdf\xa3", "webm"),
    (b"#!AMR", "amr"),
    (b"0&\xb2u\x8ef\xcf\x11", "asf"),  # WMA / WMV
    (b"\x00\x00\x01\xba", "mpeg-ps"),
)
