"""A one-hour recording for the simulator: a WAV whose header says an hour, and content that fills it.

The simulator keeps one scripted call's words (about 160 s) in a longer file. Patched in as
`aai_mcp.simulator.jobs.build_call`, `calls_filling_the_audio` says the call again and again until
the audio is full, so a one-hour transcript has an hour of words, as a real one does.
"""

from __future__ import annotations

import io
import wave
from dataclasses import replace

from aai_mcp.simulator.content import (
    TRAILING_SILENCE_MS,
    CallContent,
    ContentOptions,
    build_call,
    scripted_call,
)

HOUR_MS = 3_600_000


def calls_filling_the_audio(
    transcript_id: str, options: ContentOptions, audio_ms: int | None = None
) -> CallContent:
    """The scripted call, said again as many whole times as `audio_ms` holds (the simulator's own
    content when it holds fewer than two)."""
    call = scripted_call(transcript_id, options)
    span = call.words[-1].end + TRAILING_SILENCE_MS
    rounds = (audio_ms or 0) // span
    if rounds < 2:
        return build_call(transcript_id, options, audio_ms)
    utterances = tuple(
        replace(
            utterance,
            words=tuple(replace(w, start=w.start + n * span, end=w.end + n * span) for w in utterance.words),
            first_index=utterance.first_index + n * len(call.words),
        )
        for n in range(rounds)
        for utterance in call.utterances
    )
    return replace(call, utterances=utterances, audio_ms=audio_ms)


def hour_wav() -> bytes:
    """A WAV whose header says one hour: 8-bit mono at 100 Hz keeps it at 360 kB."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(100)
        out.writeframes(b"\x80" * (HOUR_MS // 10))
    return buffer.getvalue()
