"""The streaming proxy end to end: real clients (the official SDK's v3 streaming client, a plain
`websockets` client as a browser would use it) through a uvicorn-served gateway to the simulator."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from assemblyai.streaming.v3 import StreamingClientOptions
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from aai_mcp.access import Scopes, append_revocation
from tests.simulator.test_official_sdk import write_wav
from tests.simulator.test_sdk_streaming import stream_wav
from tests.support.proxy_harness import PROXY, SECRET, proxy_minted, proxy_token
from tests.support.servers import SIM_KEY, clean_env, free_port, serve_in_process, wait_until
from tests.support.stream_proxy import StreamingSetup, streaming_proxy
from tests.support.streaming_ws import pcm

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
        exposition = setup.gateway.metrics.exposition().decode()
    assert recorder.of("Error") == []
    assert len(recorder.of("Begin")) == 1
    finals = [turn.transcript for turn in recorder.of("Turn") if turn.end_of_turn]
    assert finals == ["thank you for calling northwind telecom", "Thank you for calling Northwind Telecom"]
    assert recorder.of("Termination")[0].audio_duration_seconds == 2
    assert [(s.audio_ms, s.close_code) for s in setup.simulator.streams] == [(2000, 1000)]
    ((account, audio, seconds),) = setup.ended
    assert (account, audio) == ("default", 2.0) and seconds > 0
    assert 'aai_mcp_proxy_stream_sessions_total{outcome="ended"} 1.0' in exposition


def test_a_browser_style_client_authenticates_with_the_subprotocol() -> None:
    token = proxy_token()
    with streaming_proxy() as setup, browser(setup, token) as ws:
        assert ws.subprotocol == "aai-mcp-token." + token  # echoed; the other offer is not selected
        assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        assert "aai_mcp_proxy_streams_open 1.0" in setup.gateway.metrics.exposition().decode()
        ws.send(pcm(300))  # one word
        assert json.loads(ws.recv(timeout=DEADLINE))["transcript"] == "thank"
        ws.send(json.dumps({"type": "Terminate"}))
        rest = messages_until_close(ws)
    assert rest[-1]["type"] == "Termination"
    assert ws.close_code == 1000


def test_refused_upgrades_answer_http_in_the_proxys_error_shape(tmp_path: Path) -> None:
    revoked = proxy_minted()
    revocations = tmp_path / "revoked.txt"
    append_revocation(revocations, revoked.claims.jti)
    read_only = proxy_token(Scopes(proxy=True, read_only=True))
    with streaming_proxy(token_revocation_file=revocations) as setup:
        cases = {
            "missing": refusal(setup),
            "bad": refusal(setup, additional_headers={"Authorization": "aai1.not-a-token"}),
            "revoked": refusal(setup, additional_headers={"Authorization": revoked.token}),
            "no proxy scope": refusal(setup, additional_headers={"Authorization": proxy_token(Scopes())}),
            "read-only": refusal(setup, additional_headers={"Authorization": f"Bearer {read_only}"}),
            "temporary token": refusal(setup, "sample_rate=16000&token=tmp-abc"),
        }
        streams = list(setup.simulator.streams)
    codes = {case: (status, body["code"]) for case, (status, body) in cases.items()}
    assert codes == {
        "missing": (401, "missing_credentials"),
        "bad": (401, codes["bad"][1]),
        "revoked": (401, "revoked"),
        "no proxy scope": (403, "proxy_not_allowed"),
        "read-only": (403, "proxy_not_allowed"),
        "temporary token": (401, "temporary_token_not_accepted"),
    }
    assert codes["bad"][1] != "missing_credentials"
    assert streams == []  # nothing reached upstream


def test_a_revoked_token_is_refused_in_the_subprotocol_too(tmp_path: Path) -> None:
    revoked = proxy_minted()
    revocations = tmp_path / "revoked.txt"
    append_revocation(revocations, revoked.claims.jti)
    with streaming_proxy(token_revocation_file=revocations) as setup:
        with pytest.raises(InvalidStatus) as refused:
            browser(setup, revoked.token)
    assert refused.value.response.status_code == 401


def test_a_client_that_vanishes_ends_the_upstream_session_promptly() -> None:
    with streaming_proxy() as setup:
        ws = browser(setup, proxy_token())
        ws.recv(timeout=DEADLINE)
        ws.send(pcm(300))
        assert json.loads(ws.recv(timeout=DEADLINE))["transcript"] == "thank"
        # Abrupt: the TCP connection goes without a close frame.
        ws.socket.shutdown(socket.SHUT_RDWR)
        ws.socket.close()
        wait_until(lambda: setup.simulator.streams and setup.ended, DEADLINE, "the upstream session's end")
        (record,) = setup.simulator.streams
        ((_, audio, _),) = setup.ended
        exposition = setup.gateway.metrics.exposition().decode()
    assert record.audio_ms == 300
    assert audio == pytest.approx(0.3)  # no Termination came: estimated from the PCM relayed
    assert 'aai_mcp_proxy_stream_sessions_total{outcome="client_left"} 1.0' in exposition


def test_the_session_cap_terminates_upstream_and_closes_with_4008() -> None:
    with streaming_proxy(proxy_stream_max_seconds=1.0) as setup, browser(setup, proxy_token()) as ws:
        assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        ws.send(pcm(300))
        received = messages_until_close(ws)  # nothing more sent: the cap ends the session
        wait_until(lambda: setup.ended, DEADLINE, "the session's end")
        (record,) = setup.simulator.streams
        ((_, audio, seconds),) = setup.ended
    assert received[-1]["type"] == "Termination"
    assert (ws.close_code, ws.close_reason) == (4008, "aai-mcp session cap reached (1 s)")
    assert record.close_code == 1000  # upstream ended cleanly on our Terminate
    assert audio == 0 and seconds >= 1.0


def test_upstreams_close_code_and_reason_reach_the_client() -> None:
    with streaming_proxy() as setup, browser(setup, proxy_token()) as ws:
        ws.recv(timeout=DEADLINE)
        ws.send("not json")
        (error,) = messages_until_close(ws)
    assert error["type"] == "Error" and error["error_code"] == 3006
    assert (ws.close_code, ws.close_reason) == (3006, "Invalid JSON: not json")


def test_an_upgrade_upstream_refuses_is_refused_with_its_status() -> None:
    with streaming_proxy() as setup:
        setup.simulator.queue_fault("503", path_prefix="/v3/ws")
        status, body = refusal(setup, additional_headers={"Authorization": proxy_token()})
    assert (status, body["code"]) == (503, "upstream_refused")


def test_the_query_string_reaches_upstream_unchanged() -> None:
    query = "sample_rate=8000&encoding=pcm_mulaw&format_turns=true&speech_model=universal-streaming-english"
    with streaming_proxy() as setup, browser(setup, proxy_token(), query) as ws:
        ws.recv(timeout=DEADLINE)
        ws.send(b"\x01" * 2400)  # 300 ms of 8 kHz mu-law: one word, only if the rate and encoding arrived
        assert json.loads(ws.recv(timeout=DEADLINE))["transcript"] == "thank"
        requests = [r for r in setup.simulator.requests if r.path == "/v3/ws"]
    assert [r.query for r in requests] == [query]


def test_passthrough_mode_streams_with_the_callers_own_key() -> None:
    # The server's own key is one the simulator refuses: only the caller's can open the session.
    with streaming_proxy(auth=["passthrough-key"], api_key="server-key-the-simulator-refuses") as setup:
        with connect(setup.url(), additional_headers={"Authorization": SIM_KEY}, open_timeout=DEADLINE) as ws:
            assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"


def test_a_token_in_the_header_and_another_in_the_subprotocol_are_refused() -> None:
    with streaming_proxy() as setup:
        with pytest.raises(InvalidStatus) as refused:
            browser(setup, proxy_token(), additional_headers={"Authorization": proxy_token()})
    response = refused.value.response
    assert response.status_code == 400
    assert json.loads(response.body or b"{}")["code"] == "conflicting_credentials"


def test_debug_logging_shows_neither_the_upstream_key_nor_the_callers_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caller_log = logging.getLogger("tests.caller")  # the test's own client logs its frames: not ours
    with streaming_proxy() as setup, browser(setup, proxy_token(), logger=caller_log) as ws:
        ws.recv(timeout=DEADLINE)
        ws.send(pcm(300))
        assert json.loads(ws.recv(timeout=DEADLINE))["transcript"] == "thank"
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != caller_log.name)
    assert "aai_mcp.proxy" in {r.name for r in caplog.records}  # the proxy did log, at INFO
    assert SIM_KEY not in ours and "thank" not in ours


def test_a_token_revoked_mid_session_ends_it_cleanly_with_4401(tmp_path: Path) -> None:
    minted = proxy_minted()
    revocations = tmp_path / "revoked.txt"
    revocations.write_text("")
    settings: dict[str, Any] = {"token_revocation_file": revocations, "stream_recheck_seconds": 0.2}
    with streaming_proxy(**settings) as setup, browser(setup, minted.token) as ws:
        assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        ws.send(pcm(300))
        assert json.loads(ws.recv(timeout=DEADLINE))["transcript"] == "thank"
        append_revocation(revocations, minted.claims.jti)
        received = messages_until_close(ws)
        wait_until(lambda: setup.simulator.streams, DEADLINE, "the upstream session's end")
        (record,) = setup.simulator.streams
    assert received[-1]["type"] == "Termination"  # upstream was told to Terminate: billing stopped
    assert (ws.close_code, ws.close_reason) == (4401, "revoked")
    assert record.close_code == 1000


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_refused_upgrade_is_not_logged_as_a_server_error() -> None:
    kept = Kept()
    uvicorn_log = logging.getLogger("uvicorn.error")  # uvicorn's own handler: not propagated to caplog
    with streaming_proxy() as setup:
        level = uvicorn_log.level  # after start: uvicorn's logging configuration resets this logger
        uvicorn_log.addHandler(kept)
        uvicorn_log.setLevel(logging.INFO)
        try:
            assert refusal(setup)[0] == 401
            with browser(setup, proxy_token()) as ws:  # a session after it: the server is fine
                assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        finally:
            uvicorn_log.removeHandler(kept)
            uvicorn_log.setLevel(level)
    messages = [r.getMessage() for r in kept.records]
    assert any("WebSocket /v1/assemblyai/v3/ws?sample_rate=16000" in m and "401" in m for m in messages)
    assert [r.getMessage() for r in kept.records if r.levelno >= logging.ERROR] == []


def test_an_unreachable_streaming_host_is_502() -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with streaming_proxy(streaming_base_url=closed) as setup:
        status, body = refusal(setup, additional_headers={"Authorization": proxy_token()})
    assert (status, body["code"]) == (502, "upstream_unreachable")


def test_a_gateway_shutting_down_ends_its_upstream_sessions() -> None:
    with streaming_proxy() as setup:
        ws = browser(setup, proxy_token())
        ws.recv(timeout=DEADLINE)
        ws.send(pcm(300))
        assert json.loads(ws.recv(timeout=DEADLINE))["transcript"] == "thank"
        setup.stop_gateway()  # as on SIGTERM
        wait_until(lambda: setup.simulator.streams, DEADLINE, "the upstream session's end")
        (record,) = setup.simulator.streams
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=DEADLINE)
    assert record.audio_ms == 300
    assert ws.close_code == 1012  # uvicorn's "service restart": the caller may reconnect elsewhere


def test_the_sdk_streams_through_aai_mcp_serve_on_its_built_in_simulator(tmp_path: Path) -> None:
    env = clean_env(AAI_MCP_TOKEN_SECRETS=SECRET)  # no key: the simulator in the serving process
    with serve_in_process("--auth", "tokens", env=env) as server:
        api_host = server.base_url.replace("http://", "ws://", 1) + PROXY
        options = StreamingClientOptions(api_key=proxy_token(), api_host=api_host)
        recorder = stream_wav(options, write_wav(tmp_path / "call.wav", seconds=2.0))
        refused = stream_wav(
            StreamingClientOptions(api_key=proxy_token(Scopes()), api_host=api_host),
            write_wav(tmp_path / "short.wav", seconds=0.5),
        )
        log = server.stderr()
    assert recorder.of("Error") == [] and len(recorder.of("Begin")) == 1
    assert [t.transcript for t in recorder.of("Turn") if t.end_of_turn][-1] == (
        "Thank you for calling Northwind Telecom"
    )
    assert recorder.of("Termination")[0].audio_duration_seconds == 2
    assert [str(e) for e in refused.of("Error")] == ["WebSocket handshake rejected (HTTP 403)"]
    assert "without completing handshake" not in log
