"""The compressed streaming encodings (opus, ogg_opus, aac) are accepted and timed from their framing,
so a session's turns and Termination follow the audio sent as with PCM; bytes that are not the
declared encoding close 3006."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from aai_mcp.simulator.account_state import Simulator
from aai_mcp.upstream.audio_framing import AudioClock, CodecError, opus_packet_ms
from tests.support.streaming_ws import connect, until_close

# TOC bytes (RFC 6716 §3.1): config << 3 | code.
CELT_20MS = bytes([31 << 3])  # config 31: CELT 20 ms, one frame
SILK_60MS_TWO = bytes([(3 << 3) | 1])  # config 3: SILK 60 ms, code 1: two frames


@pytest.fixture
def ws_client(app: Starlette) -> TestClient:
    return TestClient(app)


def adts_frame(rate_index: int = 8, payload: int = 20, blocks: int = 1) -> bytes:
    """One ADTS frame header (no CRC) and `payload` bytes; index 8 is 16000 Hz."""
    size = 7 + payload
    header = bytes(
        [
            0xFF,
            0xF1,
            (1 << 6) | (rate_index << 2),
            (1 << 6) | ((size >> 11) & 0x03),
            (size >> 3) & 0xFF,
            ((size & 0x07) << 5) | 0x1F,
            0xFC | (blocks - 1),
        ]
    )
    return header + b"\x00" * payload


def ogg_page(granule: int, body: bytes = b"\x00" * 30) -> bytes:
    return (
        b"OggS"
        + bytes([0, 0])
        + granule.to_bytes(8, "little", signed=True)
        + b"\x00" * 12
        + bytes([1, len(body)])
        + body
    )


@pytest.mark.parametrize(
    ("packet", "ms"),
    [
        (CELT_20MS + b"\x01\x02", 20.0),
        (SILK_60MS_TWO + b"\x00", 120.0),
        (bytes([(16 << 3) | 0]), 2.5),  # CELT 2.5 ms
        (bytes([(12 << 3) | 3, 4]), 40.0),  # hybrid 10 ms, code 3 with four frames
    ],
)
def test_an_opus_packet_lasts_what_its_toc_byte_says(packet: bytes, ms: float) -> None:
    assert opus_packet_ms(packet) == ms


@pytest.mark.parametrize("packet", [b"", bytes([(12 << 3) | 3]), bytes([(3 << 3) | 3, 3])])
def test_a_packet_that_is_not_opus_is_refused(packet: bytes) -> None:
    with pytest.raises(CodecError):
        opus_packet_ms(packet)


def test_adts_frames_split_across_messages_are_timed_when_whole() -> None:
    clock = AudioClock("aac", 0)
    two = adts_frame() + adts_frame(blocks=2)
    assert clock.frame_ms(two[:10]) == 0.0  # the first frame is 27 bytes
    assert clock.frame_ms(two[10:30]) == 64.0  # 1024 samples at 16 kHz
    assert clock.frame_ms(two[30:]) == 128.0


def test_ogg_pages_are_timed_by_their_granule_position() -> None:
    clock = AudioClock("ogg_opus", 0)
    headers = ogg_page(0) + ogg_page(0)
    assert clock.frame_ms(headers) == 0.0
    assert clock.frame_ms(ogg_page(48000)[:20]) == 0.0
    assert clock.frame_ms(ogg_page(48000)[20:] + ogg_page(-1)) == 1000.0
    assert clock.frame_ms(ogg_page(72000)) == 500.0


@pytest.mark.parametrize(("encoding", "junk"), [("aac", b"\x00" * 10), ("ogg_opus", b"RIFF" + b"\x00" * 40)])
def test_bytes_of_another_format_are_refused(encoding: str, junk: bytes) -> None:
    with pytest.raises(CodecError):
        AudioClock(encoding, 0).frame_ms(junk)


def test_an_opus_session_gets_turns_and_audio_seconds(ws_client: TestClient, simulator: Simulator) -> None:
    # No sample_rate: the SDK sends none with a compressed encoding.
    with connect(ws_client, "encoding=opus") as ws:
        assert ws.receive_json()["type"] == "Begin"
        for _ in range(15):  # 15 packets of 20 ms: 300 ms, one word
            ws.send_bytes(CELT_20MS + b"\x00" * 40)
        turn = ws.receive_json()
        ws.send_text('{"type": "Terminate"}')
        messages, code, _ = until_close(ws)
    assert (turn["type"], turn["transcript"]) == ("Turn", "thank")
    assert messages[-1] == {"type": "Termination", "audio_duration_seconds": 0, "session_duration_seconds": 0}
    assert code == 1000
    assert [s.audio_ms for s in simulator.streams] == [300]


def test_an_aac_session_is_timed_from_its_adts_frames(ws_client: TestClient, simulator: Simulator) -> None:
    with connect(ws_client, "encoding=aac") as ws:
        ws.receive_json()
        ws.send_bytes(adts_frame(rate_index=11, blocks=4) * 4)  # 4 x 4096 samples at 8 kHz: 2048 ms
        ws.send_text('{"type": "Terminate"}')
        messages, _, _ = until_close(ws)
    assert messages[-1]["audio_duration_seconds"] == 2
    assert [s.audio_ms for s in simulator.streams] == [2048]


def test_audio_that_is_not_the_declared_encoding_closes_3006(ws_client: TestClient) -> None:
    with connect(ws_client, "encoding=ogg_opus") as ws:
        assert ws.receive_json()["type"] == "Begin"
        ws.send_bytes(b"RIFF" + b"\x00" * 60)
        messages, code, _ = until_close(ws)
    assert code == 3006
    assert messages[-1]["error"].startswith("Invalid audio: ogg_opus audio must be Ogg pages")
