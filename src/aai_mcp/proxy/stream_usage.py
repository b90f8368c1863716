"""What a streaming session used: the audio upstream reports in its `Termination` message, else (a
session that ended without one, as when the caller vanished) what the relayed audio amounts to: PCM
by its size, a compressed encoding by its framing (upstream/audio_framing.py)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from aai_mcp.upstream.audio_framing import AudioClock
from aai_mcp.upstream.streaming_query import COMPRESSED_ENCODINGS

# The encodings whose bytes say how long the audio is (opus and aac frames are timed by their framing).
BYTES_PER_SAMPLE = {"pcm_s16le": 2, "pcm_mulaw": 1}
DEFAULT_SAMPLE_RATE = 16000
DEFAULT_ENCODING = "pcm_s16le"


def termination_audio_seconds(text: str) -> float | None:
    """`audio_duration_seconds` of a `Termination` message, None for any other message."""
    # Cheap test first: every Turn of a session passes through here.
    if '"Termination"' not in text:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") != "Termination":
        return None
    seconds = message.get("audio_duration_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return None
    return float(seconds)


def compressed_clock(query: bytes) -> AudioClock | None:
    """A clock for the session's frames when its encoding is a compressed one (opus, ogg_opus, aac),
    whose byte count says nothing of the audio's length; None for PCM (timed by its size)."""
    encoding = parse_qs(query.decode("latin-1")).get("encoding", [DEFAULT_ENCODING])[-1]
    return AudioClock(encoding, 0) if encoding in COMPRESSED_ENCODINGS else None


def estimated_audio_seconds(query: bytes, audio_bytes: int) -> float | None:
    """Seconds of PCM audio in `audio_bytes` at the session's sample rate and encoding; None when
    the encoding has no fixed size or the query does not parse."""
    params = parse_qs(query.decode("latin-1"))
    encoding = params.get("encoding", [DEFAULT_ENCODING])[-1]
    rate_text = params.get("sample_rate", [str(DEFAULT_SAMPLE_RATE)])[-1]
    if encoding not in BYTES_PER_SAMPLE or not rate_text.isdigit() or int(rate_text) == 0:
        return None
    return audio_bytes / (BYTES_PER_SAMPLE[encoding] * int(rate_text))
