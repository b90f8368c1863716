"""The team proxy's streaming front door takes the v3 parameters the SDK 1.8.2 adds: they reach
upstream unchanged and the session opens; a bad value is refused by the proxy itself as upstream
refuses it (an Error frame, close 3006), with no upstream session opened."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

import pytest

from tests.simulator.test_sim_streaming_sdk_params import NEW_PARAMS
from tests.support.proxy_harness import proxy_token
from tests.support.servers import wait_until
from tests.support.stream_proxy import streaming_proxy
from tests.test_proxy_ws import DEADLINE, browser, messages_until_close

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_the_new_parameters_reach_upstream_and_the_session_opens() -> None:
    query = urlencode({"sample_rate": "16000", **NEW_PARAMS})
    with streaming_proxy() as setup, browser(setup, proxy_token(), query) as ws:
        assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        ws.send(json.dumps({"type": "Terminate"}))
        assert messages_until_close(ws)[-1]["type"] == "Termination"
        requests = [r for r in setup.simulator.requests if r.path == "/v3/ws"]
    # The simulator records the query decoded; every name and value arrived as sent.
    assert [dict(parse_qsl(r.query)) for r in requests] == [{"sample_rate": "16000", **NEW_PARAMS}]


def test_a_compressed_encoding_reaches_upstream_without_a_sample_rate() -> None:
    query = urlencode({"encoding": "opus", "speech_model": "u3-rt-pro", "llm_gateway": '{"model": "m"}'})
    with streaming_proxy() as setup, browser(setup, proxy_token(), query) as ws:
        assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        ws.send(bytes([31 << 3]) + b"\x00" * 40)  # one 20 ms opus packet
        ws.send(json.dumps({"type": "Terminate"}))
        assert messages_until_close(ws)[-1]["type"] == "Termination"
        (stream,) = setup.simulator.streams
    assert stream.audio_ms == 20


@pytest.mark.parametrize("tail", [b"", bytes([3])], ids=["caller-left", "then-a-frame-that-is-not-opus"])
def test_a_compressed_session_whose_caller_left_is_metered_by_its_framing(tail: bytes) -> None:
    """No Termination comes when the caller vanishes: the opus packets relayed say how long it was,
    also when a last frame broke the framing (that ends the timing, not what was timed before it)."""
    with streaming_proxy() as setup:
        with browser(setup, proxy_token(), "encoding=opus") as ws:
            assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
            for _ in range(25):  # 25 packets of 20 ms
                ws.send(bytes([31 << 3]) + b"\x00" * 40)
            if tail:
                ws.send(tail)  # code 3 without its frame count: not opus
        wait_until(lambda: setup.ended, what="the session's end")
    ((account, audio, _),) = setup.ended
    assert (account, audio) == ("default", 0.5)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sample_rate=16000&mode=fastest", "mode must be one of: balanced, max_accuracy, min_latency"),
        ("sample_rate=16000&encoding=flac", "encoding must be one of: aac, ogg_opus, opus"),
        ("sample_rate=0", "sample_rate must be a positive integer"),
        ("sample_rate=16000&language_codes=en,es", "language_codes must be a JSON array of strings"),
        ("sample_rate=16000&redact_pii=yes", "redact_pii must be a boolean"),
        # A repeated name: every value is checked, not only the one a server happens to read.
        ("sample_rate=16000&voice_focus=near-field&voice_focus=mid-field", "voice_focus must be one of"),
    ],
)
def test_a_bad_parameter_is_refused_by_the_proxy_before_upstream(query: str, message: str) -> None:
    with streaming_proxy() as setup, browser(setup, proxy_token(), query) as ws:
        received = messages_until_close(ws)
        exposition = setup.gateway.metrics.exposition().decode()
        upstream_sessions = [r for r in setup.simulator.requests if r.path == "/v3/ws"]
    assert ws.close_code == 3006
    ((error),) = received
    assert error["type"] == "Error" and error["error_code"] == 3006
    assert error["error"].startswith(f"Invalid query parameter: {message}")
    assert upstream_sessions == []
    assert 'aai_mcp_proxy_stream_sessions_total{outcome="refused"} 1.0' in exposition
