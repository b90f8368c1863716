"""How much audio a streaming session's binary frames hold, by the session's encoding: the simulator
times its sessions by it, and the team proxy meters a compressed session that ended without
upstream's Termination (its caller left) by it.

PCM is timed by its size. The compressed encodings the SDK 1.8.2 allows (opus, ogg_opus, aac;
streaming/v3/models.py:171-348) are not decoded, only timed from their framing:
- opus: one packet per message (the SDK's rule); its duration from the packet's TOC byte
  (RFC 6716 §3.1: frame size by configuration, frame count by code).
- ogg_opus: Ogg pages (RFC 3533), possibly split across messages; the audio is the advance of the
  pages' granule position (48 kHz samples, RFC 7845 §4), pre-skip not subtracted.
- aac: ADTS frames, possibly split across messages; 1024 samples per raw data block at the rate
  the ADTS header names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BYTES_PER_SAMPLE = {"pcm_s16le": 2, "pcm_mulaw": 1}
# RFC 6716 §3.1: configurations 0-11 SILK, 12-15 hybrid, 16-31 CELT.
SILK_MS = (10.0, 20.0, 40.0, 60.0)
HYBRID_MS = (10.0, 20.0)
CELT_MS = (2.5, 5.0, 10.0, 20.0)
OPUS_MAX_PACKET_MS = 120.0
ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
ADTS_HEADER = 7
AAC_BLOCK_SAMPLES = 1024
OGG_HEADER = 27
OPUS_GRANULE_RATE = 48000
# A frame that never completes must not grow the buffer without bound (a 1 s ADTS frame is far less).
MAX_PENDING = 1 << 20


class CodecError(ValueError):
    """Bytes that are not the declared encoding (upstream closes such a session with 3006)."""


def opus_packet_ms(packet: bytes) -> float:
    """The audio in one Opus packet, from its TOC byte and frame count."""
    if not packet:
        raise CodecError("an empty opus packet")
    toc = packet[0]
    config = toc >> 3
    if config < 12:
        frame = SILK_MS[config % 4]
    elif config < 16:
        frame = HYBRID_MS[config % 2]
    else:
        frame = CELT_MS[config % 4]
    code = toc & 3
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    elif len(packet) < 2:
        raise CodecError("an opus packet of code 3 without its frame count")
    else:
        count = packet[1] & 0x3F
    duration = frame * count
    if not 0 < duration <= OPUS_MAX_PACKET_MS:
        raise CodecError(f"an opus packet of {duration:g} ms (at most {OPUS_MAX_PACKET_MS:g})")
    return duration


@dataclass
class FramedAudio:
    """ADTS or Ogg bytes as they arrive: whole frames/pages are timed, a split one waits."""

    encoding: str
    pending: bytearray = field(default_factory=bytearray)
    granule: int = 0

    def feed(self, chunk: bytes) -> float:
        self.pending += chunk
        if len(self.pending) > MAX_PENDING:
            raise CodecError(f"no whole {self.encoding} frame in {MAX_PENDING} bytes")
        total = 0.0
        while (step := self._next()) is not None:
            size, ms = step
            del self.pending[:size]
            total += ms
        return total

    def _next(self) -> tuple[int, float] | None:
        return self._adts() if self.encoding == "aac" else self._ogg()

    def _adts(self) -> tuple[int, float] | None:
        head = self.pending
        if len(head) < ADTS_HEADER:
            return None
        if head[0] != 0xFF or head[1] & 0xF6 != 0xF0:
            raise CodecError("aac audio must be ADTS frames (sync word 0xFFF)")
        rate_index = (head[2] >> 2) & 0x0F
        if rate_index >= len(ADTS_RATES):
            raise CodecError("an ADTS frame with a reserved sampling frequency index")
        size = ((head[3] & 0x03) << 11) | (head[4] << 3) | (head[5] >> 5)
        if size < ADTS_HEADER:
            raise CodecError("an ADTS frame shorter than its header")
        if len(head) < size:
            return None
        blocks = (head[6] & 0x03) + 1
        return size, blocks * AAC_BLOCK_SAMPLES * 1000 / ADTS_RATES[rate_index]

    def _ogg(self) -> tuple[int, float] | None:
        head = self.pending
        if len(head) < OGG_HEADER:
            return None
        if head[:4] != b"OggS":
            raise CodecError("ogg_opus audio must be Ogg pages (capture pattern OggS)")
        segments = head[26]
        if len(head) < OGG_HEADER + segments:
            return None
        size = OGG_HEADER + segments + sum(head[OGG_HEADER : OGG_HEADER + segments])
        if len(head) < size:
            return None
        granule = int.from_bytes(head[6:14], "little", signed=True)
        if granule < 0:  # -1: no packet ends on this page
            return size, 0.0
        advance, self.granule = max(0, granule - self.granule), max(granule, self.granule)
        return size, advance * 1000 / OPUS_GRANULE_RATE


class AudioClock:
    """The audio milliseconds in each binary frame of a session opened with `encoding`."""

    def __init__(self, encoding: str, sample_rate: int) -> None:
        self.encoding = encoding
        self.sample_rate = sample_rate
        self.framed = FramedAudio(encoding) if encoding in ("aac", "ogg_opus") else None

    @property
    def sized(self) -> bool:
        """PCM: a frame's size is its duration, so the 50-1000 ms frame rule applies."""
        return self.encoding in BYTES_PER_SAMPLE

    def frame_ms(self, chunk: bytes) -> float:
        if self.encoding in BYTES_PER_SAMPLE:
            return len(chunk) * 1000 / (BYTES_PER_SAMPLE[self.encoding] * self.sample_rate)
        if self.framed is not None:
            return self.framed.feed(chunk)
        return opus_packet_ms(chunk)
