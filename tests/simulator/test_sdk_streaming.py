"""Fidelity: the official SDK's streaming v3 client, over a real loopback socket, against the simulator.

`StreamingClientOptions(api_host=...)` keeps a `ws://` scheme it is given (`_build_uri`), so
`api_host="ws://127.0.0.1:<port>"` points the client at a local simulator or gateway.
"""

from __future__ import annotations

import json
import threading
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from assemblyai.streaming.v3 import (
    StreamingClient,
    StreamingClientOptions,
    StreamingEvents,
    StreamingParameters,
)
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

from tests.simulator.test_official_sdk import write_wav
from tests.support.servers import wait_until
from tests.support.simulator_harness import API_KEY

if TYPE_CHECKING:
    from tests.support.simulator_harness import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
CHUNK_MS = 100


def pcm_chunks(path: Path) -> list[bytes]:
    with wave.open(str(path), "rb") as wav:
        frames_per_chunk = wav.getframerate() * CHUNK_MS // 1000
        chunks = []
        while chunk := wav.readframes(frames_per_chunk):
            chunks.append(chunk)
    return chunks


class Recorder:
    """Every event the client dispatches, in order, from its read thread."""

    def __init__(self, client: StreamingClient) -> None:
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        for kind in (StreamingEvents.Begin, StreamingEvents.Turn, StreamingEvents.Termination):
            client.on(kind, self.handler(kind.value))
        client.on(StreamingEvents.Error, self.handler("Error"))

    def handler(self, kind: str) -> Any:
        def record(_client: Any, event: Any) -> None:
            with self.lock:
                self.events.append((kind, event))

        return record

    def of(self, kind: str) -> list[Any]:
        return [event for k, event in self.events if k == kind]


def ws_host(live_server: LiveServer) -> str:
    return live_server.base_url.replace("http://", "ws://", 1)


def stream_wav(options: StreamingClientOptions, wav: Path) -> Recorder:
    client = StreamingClient(options)
    recorder = Recorder(client)
    client.connect(StreamingParameters(sample_rate=16000, format_turns=True))
    client.stream(pcm_chunks(wav))
    client.disconnect(terminate=True)  # sends Terminate, waits for Termination (5 s at most)
    return recorder


def test_sdk_streams_a_wav_and_receives_turns(live_server: LiveServer, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "call.wav", seconds=2.0)
    options = StreamingClientOptions(api_key=API_KEY, api_host=ws_host(live_server))
    recorder = stream_wav(options, wav)

    assert recorder.of("Error") == []
    assert len(recorder.of("Begin")) == 1
    turns = recorder.of("Turn")
    finals = [t for t in turns if t.end_of_turn]
    assert [(t.turn_is_formatted, t.transcript) for t in finals] == [
        (False, "thank you for calling northwind telecom"),
        (True, "Thank you for calling Northwind Telecom"),
    ]
    assert [(w.start, w.end) for w in finals[1].words][-1] == (1500, 1800)
    assert [t.transcript for t in turns if not t.end_of_turn][:2] == ["thank", "thank you"]
    (termination,) = recorder.of("Termination")
    assert termination.audio_duration_seconds == 2
    assert [s.audio_ms for s in live_server.simulator.streams] == [2000]


def test_sdk_streams_with_a_temporary_token(live_server: LiveServer, tmp_path: Path) -> None:
    # The SDK's own create_temporary_token prefixes `https://` to api_host, so a `ws://` host
    # cannot mint one through it; the token comes from the simulator's /v3/token directly.
    response = httpx.get(
        f"{live_server.base_url}/v3/token",
        params={"expires_in_seconds": 60},
        headers={"Authorization": API_KEY},
    )
    options = StreamingClientOptions(token=response.json()["token"], api_host=ws_host(live_server))
    recorder = stream_wav(options, write_wav(tmp_path / "short.wav", seconds=1.0))
    assert recorder.of("Error") == []
    assert [t.transcript for t in recorder.of("Turn") if t.end_of_turn] == ["thank you for", "Thank you for"]
    assert recorder.of("Termination")[0].audio_duration_seconds == 1

    again = stream_wav(options, write_wav(tmp_path / "again.wav", seconds=0.5))
    (error,) = again.of("Error")
    assert error.code == 1008 and "already been used" in str(error)


def test_a_silent_client_is_terminated_by_the_real_clock(live_server: LiveServer) -> None:
    url = f"{ws_host(live_server)}/v3/ws?sample_rate=16000&inactivity_timeout=5"
    with connect(url, additional_headers={"Authorization": API_KEY}, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        # Nothing sent: the server's own timer (not a client message) ends the session at 5 s.
        termination = json.loads(ws.recv(timeout=30))
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=10)
    assert termination["type"] == "Termination"
    assert termination["session_duration_seconds"] >= 5  # later on a loaded machine, never sooner
    assert ws.close_code == 1000


def test_a_client_that_vanishes_mid_stream_still_leaves_a_record(live_server: LiveServer) -> None:
    url = f"{ws_host(live_server)}/v3/ws?sample_rate=16000"
    with connect(url, additional_headers={"Authorization": API_KEY}, open_timeout=10) as ws:
        ws.recv(timeout=10)
        ws.send(b"\x01" * 9600)  # 300 ms: one word
        assert json.loads(ws.recv(timeout=10))["transcript"] == "thank"
    wait_until(lambda: live_server.simulator.streams, what="the session record")
    (record,) = live_server.simulator.streams
    assert (record.audio_ms, record.close_code) == (300, 1000)


def test_sdk_reports_a_refused_upgrade_with_its_status(live_server: LiveServer, tmp_path: Path) -> None:
    live_server.simulator.queue_fault("503", path_prefix="/v3/ws")
    options = StreamingClientOptions(api_key=API_KEY, api_host=ws_host(live_server))
    recorder = stream_wav(options, write_wav(tmp_path / "call.wav", seconds=1.0))
    (error,) = recorder.of("Error")
    assert (error.code, str(error)) == (503, "WebSocket handshake rejected (HTTP 503)")
    assert recorder.of("Begin") == []
