"""The streaming proxy end to end: real clients (the official SDK's v3 streaming client, a plain
`websockets` client as a browser would use it) through a uvicorn-served gateway to the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from assemblyai.streaming.v3 import StreamingClientOptions
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.simulator.test_official_sdk import write_wav
from tests.simulator.test_sdk_streaming import stream_wav
from tests.support.proxy_harness import proxy_token
from tests.support.servers import wait_until
from tests.support.stream_proxy import StreamingSetup, streaming_proxy

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
# Generous: a loaded 2-core machine answers in milliseconds; only a broken proxy waits this long.
DEADLINE = 30.0


def browser(
    setup: StreamingSetup, token: str, query: str = "sample_rate=16000", **kw: Any
) -> ClientConnection:
    protocols = ["aai-mcp-token." + token, "graphql-ws"]
    return connect(setup.url(query), subprotocols=protocols, open_timeout=DEADLINE, **kw)  # type: ignore[arg-type]


def messages_until_close(ws: ClientConnection) -> list[dict[str, Any]]:
    received = []
    try:
        while True:
            received.append(json.loads(ws.recv(timeout=DEADLINE)))
    except ConnectionClosed:
        return received


def refusal(setup: StreamingSetup, query: str = "sample_rate=16000", **kw: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as refused:
        connect(setup.url(query), open_timeout=DEADLINE, **kw)
    response = refused.value.response
    return response.status_code, json.loads(response.body or b"{}")


def test_the_official_sdk_streams_a_wav_through_the_proxy(tmp_path: Path) -> None:
    with streaming_proxy() as setup:
        options = StreamingClientOptions(api_key=proxy_token(), api_host=setup.ws_base)
        recorder = stream_wav(options, write_wav(tmp_path / "call.wav", seconds=2.0))
        wait_until(lambda: setup.ended, what="the session's end")
    assert recorder.of("Error") == []
    assert len(recorder.of("Begin")) == 1
    finals = [turn.transcript for turn in recorder.of("Turn") if turn.end_of_turn]
    assert finals == ["thank you for calling northwind telecom", "Thank you for calling Northwind Telecom"]
    assert recorder.of("Termination")[0].audio_duration_seconds == 2
    assert [(s.audio_ms, s.close_code) for s in setup.simulator.streams] == [(2000, 1000)]
    ((account, audio, seconds),) = setup.ended
    assert (account, audio) == ("default", 2.0) and seconds > 0
