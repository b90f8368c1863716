"""A transcript of an uploaded WAV is as long as the WAV: duration and every timestamp fit in it."""

from __future__ import annotations

import re
import struct
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from aai_mcp.simulator.wav import WavProbe
from tests.support import wav_bytes

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

OCTET = {"Content-Type": "application/octet-stream"}
PCM_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
SRT_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d)")
VTT_TIME = re.compile(r"(?:(\d\d):)?(\d\d):(\d\d)\.(\d\d\d)")


def chunk(chunk_id: bytes, body: bytes, declared: int | None = None) -> bytes:
    size = len(body) if declared is None else declared
    return chunk_id + struct.pack("<I", size) + body + (b"\x00" if len(body) % 2 else b"")


def fmt_body(rate: int = 8000, channels: int = 2, bits: int = 16, tag: int = 1) -> bytes:
    align = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)


def extensible_fmt(rate: int = 8000, channels: int = 2, bits: int = 16) -> bytes:
    base = fmt_body(rate, channels, bits, tag=0xFFFE)
    # cbSize 22, valid bits, channel mask, then the SubFormat GUID (PCM).
    return base + struct.pack("<HHI", 22, bits, 0x3) + struct.pack("<H", 1) + PCM_GUID_TAIL


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def probed(data: bytes, piece: int | None = None) -> int | None:
    probe = WavProbe()
    step = piece or len(data)
    for index in range(0, len(data), step):
        probe.feed(data[index : index + step])
    return probe.duration_ms(len(data))


ONE_SECOND_STEREO_8K = b"\x01\x00" * 2 * 8000
ZEROS = b"\x00" * 64 * 1024


@pytest.mark.parametrize("piece", [None, 1, 3, 7])
def test_the_header_is_read_however_the_stream_is_cut(piece: int | None) -> None:
    assert probed(wav_bytes(2.0), piece) == 2000
    extensible = riff(
        chunk(b"fmt ", extensible_fmt()),
        chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00odd!\x00"),  # odd size: one pad byte follows
        chunk(b"JUNK", b"\x00" * 5000),
        chunk(b"data", ONE_SECOND_STEREO_8K * 3),
    )
    assert probed(extensible, piece) == 3000


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # A writer that streamed and could not fill in the size; a file cut short.
        (riff(chunk(b"fmt ", fmt_body()), chunk(b"data", ONE_SECOND_STEREO_8K, declared=0xFFFFFFFF)), 1000),
        (riff(chunk(b"fmt ", fmt_body()), chunk(b"data", ONE_SECOND_STEREO_8K, declared=10 * 32000)), 1000),
        # Compressed (IMA ADPCM): the average byte rate gives the length.
        (
            riff(
                chunk(b"fmt ", struct.pack("<HHIIHH", 0x11, 1, 8000, 4055, 256, 4)),
                chunk(b"data", b"\x00" * 8110),
            ),
            2000,
        ),
        # Not readable: the scripted call keeps its own length.
        (riff(chunk(b"data", ONE_SECOND_STEREO_8K), chunk(b"fmt ", fmt_body())), None),
        (riff(chunk(b"fmt ", b"\x01\x00")), None),
        (riff(chunk(b"fmt ", fmt_body()), chunk(b"data", b"")), 0),
        (b"RIFF\x00\x00\x00\x00AVI " + b"\x00" * 64, None),
        (b"ID3\x04\x00" + b"\x00" * 64, None),
        (b"RIFF", None),
    ],
)
def test_what_the_header_says_or_none(data: bytes, expected: int | None) -> None:
    assert probed(data) == expected


def timestamps(value: Any) -> Iterator[int]:
    """Every start/end (and word-search timestamp) anywhere in a JSON answer."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("start", "end") and isinstance(item, int):
                yield item
            elif key == "timestamps" and all(isinstance(pair, list) for pair in item):
                yield from (ms for pair in item for ms in pair)
            else:
                yield from timestamps(item)
    elif isinstance(value, list):
        for item in value:
            yield from timestamps(item)


def caption_times(text: str, pattern: re.Pattern[str]) -> list[int]:
    found = []
    for hours, minutes, seconds, millis in pattern.findall(text):
        found.append(((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis))
    return found


async def test_a_two_second_clip_is_a_two_second_transcript(sim: Harness) -> None:
    audio_url = await sim.upload(wav_bytes(2.0))
    features = {"speaker_labels": True, "entity_detection": True, "auto_highlights": True}
    created = await sim.create(audio_url, sentiment_analysis=True, iab_categories=True, **features)
    sim.clock.advance(3.0)
    done = await sim.get(created["id"])
    assert done["status"] == "completed" and done["audio_duration"] == 2
    assert "double charge" in done["text"]  # the same call, fitted into the clip
    views = [done]
    for view in ("sentences", "paragraphs", "word-search?words=refund,supervisor"):
        response = await sim.client.get(f"/v2/transcript/{created['id']}/{view}")
        assert response.status_code == 200, response.text
        views.append(response.json())
    found = [ms for view in views for ms in timestamps(view)]
    assert len(found) > 1000 and max(found) <= 2000
    words = done["words"]
    assert all(a["start"] <= a["end"] <= b["start"] for a, b in zip(words, words[1:], strict=False))
    srt = (await sim.client.get(f"/v2/transcript/{created['id']}/srt")).text
    vtt = (await sim.client.get(f"/v2/transcript/{created['id']}/vtt")).text
    for times in (caption_times(srt, SRT_TIME), caption_times(vtt, VTT_TIME)):
        assert times and max(times) <= 2000


async def test_a_long_clip_keeps_the_call_and_reports_its_own_length(sim: Harness) -> None:
    five_minutes = riff(chunk(b"fmt ", fmt_body(channels=1, bits=8)), chunk(b"data", b"\x80" * 8000 * 300))
    done = await sim.get((await sim.create(await sim.upload(five_minutes)))["id"])
    sim.clock.advance(3.0)
    done = await sim.get(done["id"])
    assert done["audio_duration"] == 300
    assert 100_000 < done["words"][-1]["end"] < 300_000


async def test_audio_without_a_readable_length_keeps_the_scripted_call(sim: Harness) -> None:
    done = await sim.get((await sim.create(await sim.upload(b"ID3\x04\x00" + b"\x00" * 4096)))["id"])
    sim.clock.advance(3.0)
    done = await sim.get(done["id"])
    assert 120 <= done["audio_duration"] <= 200
    assert done["words"][-1]["end"] > 100_000


async def junk_then_samples(junk: int, samples: int) -> AsyncIterator[bytes]:
    """A WAV with `junk` bytes of JUNK before `samples` bytes of data, never held whole."""
    yield b"RIFF" + struct.pack("<I", 4 + 24 + 8 + junk + 8 + samples) + b"WAVE" + chunk(b"fmt ", fmt_body())
    for chunk_id, size in ((b"JUNK", junk), (b"data", samples)):
        yield chunk_id + struct.pack("<I", size)
        for start in range(0, size, len(ZEROS)):
            yield ZEROS[: size - start]


async def test_a_header_far_into_a_large_upload_is_read_in_constant_memory(sim: Harness) -> None:
    junk, samples = 8 * 1024 * 1024, 32000 * 600  # 8 MB of JUNK, then 10 minutes of 8 kHz stereo
    tracemalloc.start()
    try:
        response = await sim.client.post(
            "/v2/upload", content=junk_then_samples(junk, samples), headers=OCTET
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.text
    uploaded = sim.simulator.uploads[response.json()["upload_url"].rsplit("/", 1)[1]]
    assert uploaded.audio_ms == 600_000
    assert peak < 4 * 1024 * 1024, f"peak traced memory {peak} bytes suggests the body was buffered"
