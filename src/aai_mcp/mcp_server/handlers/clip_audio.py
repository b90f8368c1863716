"""A short clip's bytes for the Sync and Dictation APIs, which take the audio itself (no URL) and only
WAV or raw 16-bit PCM of 80 ms to 120 s and at most 40 MB (ENDPOINTS-SDK-2026-10.md §1.4-1.5, §2).
Those limits are checked here, before anything is sent: a refused clip costs no request."""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

import anyio
import anyio.to_thread

from aai_mcp.caller_input import ToolInputError, quoted
from aai_mcp.mcp_server.handlers.downloads import download_bytes
from aai_mcp.mcp_server.handlers.safe_open import open_beneath_roots
from aai_mcp.mcp_server.runtime.tool_call import ToolCall

MAX_CLIP_BYTES = 40_000_000
MAX_CLIP_MS = 120_000
MIN_CLIP_MS = 80
SAMPLE_RATES = frozenset({8000, 16000, 22050, 24000, 32000, 44100, 48000})
PCM_SUFFIXES = (".pcm", ".raw")
LONGER = "For longer or other audio use transcribe (the async API takes any format up to 10 hours)."


@dataclass(frozen=True)
class Clip:
    audio: bytes
    filename: str
    content_type: str
    """audio/wav or audio/pcm: the two types the live routes take."""
    duration_ms: int


async def clip_from(call: ToolCall, source: str, value: str) -> Clip:
    """The clip the caller named by `source` (path, url or data_base64), checked against the limits."""
    if source == "path":
        audio, name = await _path_bytes(call, value), value.rsplit("/", 1)[-1]
    elif source == "url":
        audio, name = await download_bytes(call, value, MAX_CLIP_BYTES), ""
    else:
        audio, name = _base64_bytes(call, value), ""
    return checked_clip(audio, name, call.args.get("sample_rate"), call.args.get("channels"))


def checked_clip(audio: bytes, name: str, sample_rate: int | None, channels: int | None) -> Clip:
    if len(audio) > MAX_CLIP_BYTES:
        raise ToolInputError(f"The clip is {len(audio)} bytes; the Sync API takes at most 40 MB. {LONGER}")
    raw_pcm = name.lower().endswith(PCM_SUFFIXES) or sample_rate is not None or channels is not None
    if raw_pcm:
        duration = _pcm_duration_ms(audio, sample_rate, channels)
        clip = Clip(audio, name or "audio.pcm", "audio/pcm", duration)
    else:
        clip = Clip(audio, name or "audio.wav", "audio/wav", _wav_duration_ms(audio))
    if clip.duration_ms < MIN_CLIP_MS:
        raise ToolInputError(f"The clip is {clip.duration_ms} ms long; the API needs at least 80 ms.")
    if clip.duration_ms > MAX_CLIP_MS:
        raise ToolInputError(
            f"The clip is {clip.duration_ms / 1000:.1f} s long; the Sync and Dictation APIs take at most "
            f"120 s. {LONGER}"
        )
    return clip


def _pcm_duration_ms(audio: bytes, sample_rate: int | None, channels: int | None) -> int:
    if sample_rate is None or channels is None:
        raise ToolInputError("Raw PCM needs both sample_rate and channels (a WAV file carries them itself).")
    _check_format(sample_rate, channels, 16)
    frame = channels * 2
    if len(audio) % frame:
        raise ToolInputError(f"Raw 16-bit PCM of {channels} channel(s) comes in {frame}-byte frames.")
    return len(audio) * 1000 // (sample_rate * frame)


def _check_format(sample_rate: int, channels: int, bits: int) -> None:
    if bits != 16:
        raise ToolInputError(f"The audio is {bits}-bit; the API takes 16-bit samples only. {LONGER}")
    if channels not in (1, 2):
        raise ToolInputError(f"The audio has {channels} channels; the API takes mono or stereo.")
    if sample_rate not in SAMPLE_RATES:
        rates = ", ".join(str(rate) for rate in sorted(SAMPLE_RATES))
        raise ToolInputError(f"The sample rate {sample_rate} Hz is not one the API takes ({rates}).")


def _wav_duration_ms(audio: bytes) -> int:
    if len(audio) < 12 or audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        raise ToolInputError(
            "The Sync and Dictation APIs take WAV or raw 16-bit PCM only (for raw PCM give sample_rate "
            f"and channels). {LONGER}"
        )
    fmt, data_bytes = _wav_chunks(audio)
    if fmt is None or data_bytes is None:
        raise ToolInputError("The WAV file has no fmt or data chunk: it is damaged or cut short.")
    sample_rate, channels, bits = fmt
    _check_format(sample_rate, channels, bits)
    return data_bytes * 1000 // (sample_rate * channels * 2)


def _wav_chunks(audio: bytes) -> tuple[tuple[int, int, int] | None, int | None]:
    """(rate, channels, bits) of the fmt chunk and the data chunk's size as far as the file has it."""
    fmt: tuple[int, int, int] | None = None
    offset = 12
    while offset + 8 <= len(audio):
        chunk_id, size = audio[offset : offset + 4], struct.unpack_from("<I", audio, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"fmt " and size >= 16 and body + 16 <= len(audio):
            _, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", audio, body)
            fmt = (rate, channels, bits)
        elif chunk_id == b"data":
            # A streaming writer leaves the size unknown (0xFFFFFFFF): count what the file holds.
            return fmt, min(size, len(audio) - body)
        offset = body + size + (size & 1)
    return fmt, None


async def _path_bytes(call: ToolCall, raw: str) -> bytes:
    roots = call.settings.upload_roots or []
    if not roots:
        raise ToolInputError(
            "path is disabled: this server has no upload roots (set AAI_MCP_UPLOAD_ROOTS or "
            "--upload-roots). Use url or data_base64 instead."
        )
    opened = await anyio.to_thread.run_sync(open_beneath_roots, raw, roots)
    async with anyio.wrap_file(opened.handle) as handle:
        if opened.size > MAX_CLIP_BYTES:
            raise ToolInputError(
                f"{quoted(raw)} is {opened.size} bytes; the Sync API takes at most 40 MB. {LONGER}"
            )
        try:
            return await handle.read(MAX_CLIP_BYTES + 1)
        except OSError:
            raise ToolInputError("Reading the file failed; nothing was sent.") from None


def _base64_bytes(call: ToolCall, data: str) -> bytes:
    cap = min(call.settings.upload_max_base64_bytes, MAX_CLIP_BYTES)
    if len(data) // 4 * 3 > cap + 3:
        raise ToolInputError(f"data_base64 decodes to about {len(data) // 4 * 3} bytes; the limit is {cap}.")
    try:
        audio = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ToolInputError("data_base64 is not valid base64.") from None
    if not audio or len(audio) > cap:
        raise ToolInputError(f"data_base64 must decode to 1..{cap} bytes, not {len(audio)}.")
    return audio
