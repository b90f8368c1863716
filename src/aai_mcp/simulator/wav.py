"""How long a WAV file plays, read from its header while the upload streams past.

RIFF/WAVE: a 12-byte file header, then chunks (4-byte id, little-endian 4-byte size, body padded
to an even length). `fmt ` says how bytes become time; `data` holds the samples. Chunk bodies
other than `fmt ` are skipped without being kept, so memory stays constant whatever precedes the
samples (LIST, bext, JUNK...). Anything unexpected makes the duration unknown (None), never an error.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

FORMAT_PCM = 0x0001
FORMAT_IEEE_FLOAT = 0x0003
FORMAT_EXTENSIBLE = 0xFFFE
LINEAR_FORMATS = (FORMAT_PCM, FORMAT_IEEE_FLOAT)
MAX_FMT_BYTES = 1024  # a real fmt chunk is 16, 18 or 40 bytes
UNKNOWN_SIZE = 0xFFFFFFFF  # what streaming writers put in a size they could not know yet


@dataclass(frozen=True)
class WavFormat:
    tag: int
    sample_rate: int
    byte_rate: int
    block_align: int


def parse_fmt(body: bytes) -> WavFormat | None:
    if len(body) < 16:
        return None
    tag, _channels, sample_rate, byte_rate, block_align = struct.unpack_from("<HHIIH", body)
    if tag == FORMAT_EXTENSIBLE and len(body) >= 26:
        # WAVEFORMATEXTENSIBLE: the real format is the first two bytes of the SubFormat GUID.
        (tag,) = struct.unpack_from("<H", body, 24)
    return WavFormat(tag, sample_rate, byte_rate, block_align)


def duration_ms(fmt: WavFormat, data_bytes: int) -> int | None:
    """Milliseconds of audio in `data_bytes` of samples; whole frames for linear PCM."""
    if fmt.tag in LINEAR_FORMATS and fmt.block_align > 0 and fmt.sample_rate > 0:
        return (data_bytes // fmt.block_align) * 1000 // fmt.sample_rate
    if fmt.byte_rate > 0:  # compressed (ADPCM, MP3 in WAV...): byte_rate is the average
        return data_bytes * 1000 // fmt.byte_rate
    return None


class WavProbe:
    """Feed it the upload's chunks in order; `duration_ms(total_size)` once the stream ends."""

    def __init__(self) -> None:
        self._pending = bytearray()  # bytes of the header or chunk being read; small by construction
        self._want = 12  # how many bytes the current step needs
        self._step: Callable[[bytes], None] | None = self._riff_header
        self._skip = 0  # bytes of an uninteresting chunk still to pass over
        self._offset = 0  # bytes consumed so far
        self._fmt: WavFormat | None = None
        self._fmt_size = 0
        self._data: tuple[int, int] | None = None  # (offset of the samples, declared size)

    @property
    def done(self) -> bool:
        return self._step is None

    def feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view and self._step is not None:
            step = self._step
            if self._skip:
                passed = min(self._skip, len(view))
                self._skip -= passed
                self._offset += passed
                view = view[passed:]
                continue
            take = min(self._want - len(self._pending), len(view))
            self._pending += view[:take]
            self._offset += take
            view = view[take:]
            if len(self._pending) == self._want:
                body = bytes(self._pending)
                self._pending.clear()
                step(body)

    def duration_ms(self, total_size: int) -> int | None:
        """Milliseconds of audio, or None when the header could not be read."""
        if self._fmt is None or self._data is None:
            return None
        start, declared = self._data
        present = max(total_size - start, 0)
        # A placeholder (0 or 0xFFFFFFFF) or a cut-off file: count the sample bytes that arrived.
        data_bytes = present if declared in (0, UNKNOWN_SIZE) else min(declared, present)
        return duration_ms(self._fmt, data_bytes)

    def _expect(self, count: int, step: Callable[[bytes], None] | None) -> None:
        """Call `step` with the next `count` bytes (None: read no further)."""
        self._want = count
        self._step = step

    def _riff_header(self, header: bytes) -> None:
        is_wave = header[:4] == b"RIFF" and header[8:12] == b"WAVE"
        self._expect(8, self._chunk_header if is_wave else None)

    def _chunk_header(self, header: bytes) -> None:
        chunk_id = header[:4]
        (size,) = struct.unpack("<I", header[4:])
        if chunk_id == b"data":
            if self._fmt is not None:  # samples before any fmt: nothing says how long they play
                self._data = (self._offset, size)
            self._expect(0, None)
        elif chunk_id == b"fmt ":
            self._fmt_size = size
            readable = self._fmt is None and 16 <= size <= MAX_FMT_BYTES
            self._expect(size + size % 2, self._fmt_body if readable else None)
        else:
            self._skip = size + size % 2  # odd-sized chunks carry one pad byte
            self._expect(8, self._chunk_header)

    def _fmt_body(self, body: bytes) -> None:
        self._fmt = parse_fmt(body[: self._fmt_size])
        self._expect(8, self._chunk_header if self._fmt is not None else None)
