"""Playable audio whose length follows the text: a 440 Hz tone (PCM), silence (G.711, MP3).

Each spoken character (a letter or digit) lasts MS_PER_CHARACTER, so a test can predict the length
and read it back with the `wave` module; a text with nothing to speak gives no samples and bills 0,
as upstream does (ENDPOINTS-SDK-2026-10.md §3.1, `models.py:271-275`).
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache

from .speech_params import SpeechRequest

MS_PER_CHARACTER = 60
TONE_HZ = 440  # whole cycles per second, so a one-second block repeats without a click
UNKNOWN_SIZE = 0xFFFFFFFF  # a streamed WAV's size fields (models.py:112-121)
WAV_TAGS = {"pcm_s16le": 1, "pcm_alaw": 6, "pcm_mulaw": 7}
G711_SILENCE = {"pcm_mulaw": b"\xff", "pcm_alaw": b"\xd5"}
RAW_TYPES = {"pcm_s16le": "audio/pcm", "pcm_mulaw": "audio/PCMU", "pcm_alaw": "audio/PCMA"}
MP3_V1_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MP3_V2_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
# sample rate -> (version bits, sample-rate index): MPEG-1, MPEG-2, MPEG-2.5
MP3_RATES = {44100: (3, 0), 48000: (3, 1), 22050: (2, 0), 24000: (2, 1), 16000: (2, 2), 8000: (0, 2)}


def spoken_characters(text: str) -> int:
    return sum(1 for char in text if char.isalnum())


def billed_characters(text: str) -> int:
    return len(text) if spoken_characters(text) else 0


def duration_ms(text: str) -> int:
    return spoken_characters(text) * MS_PER_CHARACTER


def content_type(request: SpeechRequest) -> str:
    if request.encoding == "mp3":
        return "audio/mpeg"
    if request.container == "wav":
        return "audio/wav"
    return f"{RAW_TYPES[request.encoding]};rate={request.sample_rate};channels=1"


def speech_audio(request: SpeechRequest) -> bytes:
    """The whole answer body for `request` (streamed answers send the same bytes in pieces)."""
    if request.encoding == "mp3":
        return mp3_silence(request.sample_rate, request.bit_rate or 64000, duration_ms(request.text))
    samples = duration_ms(request.text) * request.sample_rate // 1000
    data = pcm_samples(request.encoding, request.sample_rate, samples)
    if request.container == "wav":
        return wav_header(request, len(data), sized=not request.stream) + data
    return data


def pcm_samples(encoding: str, rate: int, count: int) -> bytes:
    if encoding in G711_SILENCE:
        return G711_SILENCE[encoding] * count
    block = tone_second(rate)
    whole, rest = divmod(count * 2, len(block))
    return block * whole + block[:rest]


@lru_cache(maxsize=8)
def tone_second(rate: int) -> bytes:
    amplitude = 0.2 * 32767
    values = (round(amplitude * math.sin(2 * math.pi * TONE_HZ * n / rate)) for n in range(rate))
    return struct.pack(f"<{rate}h", *values)


def wav_header(request: SpeechRequest, data_bytes: int, *, sized: bool) -> bytes:
    width = 2 if request.encoding == "pcm_s16le" else 1
    rate = request.sample_rate
    riff_size = 36 + data_bytes if sized else UNKNOWN_SIZE
    data_size = data_bytes if sized else UNKNOWN_SIZE
    fmt = struct.pack("<HHIIHH", WAV_TAGS[request.encoding], 1, rate, rate * width, width, width * 8)
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", data_size)
    )


def mp3_silence(rate: int, bit_rate: int, milliseconds: int) -> bytes:
    """Valid mono MPEG Layer III frames whose side information is all zero: decoders play silence."""
    version, rate_index = MP3_RATES[rate]
    table, per_frame, factor = (MP3_V1_KBPS, 1152, 144) if version == 3 else (MP3_V2_KBPS, 576, 72)
    bitrate_index = table.index(bit_rate // 1000)
    header = (0x7FF << 21) | (version << 19) | (1 << 17) | (1 << 16) | (bitrate_index << 12)
    header |= (rate_index << 10) | (3 << 6)  # no padding, mono
    frame = struct.pack(">I", header).ljust(factor * bit_rate // rate, b"\x00")
    frames = math.ceil(milliseconds * rate / 1000 / per_frame)
    return frame * frames
