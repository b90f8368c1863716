"""The v3 streaming WebSocket: session flow with exact figures, auth, and every error close."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient, WebSocketDenialResponse

from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import Simulator
from tests.support import ManualClock
from tests.support.simulator_harness import API_KEY
from tests.support.streaming_ws import connect, pcm, refused, until_close

AUTH = {"Authorization": API_KEY}
INVALID = "Invalid Message: "
FIRST_LINE = "Thank you for calling Northwind Telecom billing support, this is Sam. How can I help you today?"


@pytest.fixture
def ws_client(app: Starlette) -> TestClient:
    return TestClient(app)


def words_of(turn: dict[str, object]) -> list[tuple[str, int, int, bool]]:
    words = turn["words"]
    assert isinstance(words, list)
    return [(w["text"], w["start"], w["end"], w["word_is_final"]) for w in words]


def test_begin_audio_turns_terminate(ws_client: TestClient, simulator: Simulator, clock: ManualClock) -> None:
    with connect(ws_client, "sample_rate=16000&format_turns=true") as ws:
        begin = ws.receive_json()
        assert begin["type"] == "Begin"
        assert begin["expires_at"] == int(simulator.wall_now().timestamp()) + 10800
        ws.send_bytes(pcm(1000))
        partial = ws.receive_json()
        assert partial["type"] == "Turn" and partial["turn_order"] == 0
        assert (partial["end_of_turn"], partial["turn_is_formatted"]) == (False, False)
        assert partial["transcript"] == "thank you for"
        assert partial["utterance"] == ""
        assert words_of(partial) == [
            ("thank", 0, 300, True),
            ("you", 300, 600, True),
            ("for", 600, 900, True),
            ("calling", 900, 1200, False),  # under way: 100 of its 300 ms heard
        ]
        ws.send_bytes(pcm(100))  # 1100 ms: no word completes, so nothing is sent
        clock.advance(7)
        ws.send_text('{"type": "Terminate"}')
        messages, code, _ = until_close(ws)
    raw, formatted, termination = messages
    assert (raw["end_of_turn"], raw["turn_is_formatted"], raw["transcript"]) == (True, False, "thank you for")
    assert raw["utterance"] == "thank you for"
    assert (formatted["turn_is_formatted"], formatted["transcript"]) == (True, "Thank you for")
    assert termination == {"type": "Termination", "audio_duration_seconds": 1, "session_duration_seconds": 7}
    assert code == 1000
    assert [(s.audio_ms, s.session_seconds, s.close_code) for s in simulator.streams] == [(1100, 7.0, 1000)]


@pytest.mark.parametrize(("audio_ms", "seconds"), [(400, 0), (500, 1), (1500, 2), (2400, 2)])
def test_termination_rounds_audio_seconds_half_up(ws_client: TestClient, audio_ms: int, seconds: int) -> None:
    with connect(ws_client) as ws:
        ws.receive_json()
        for _ in range(audio_ms // 100):
            ws.send_bytes(pcm(100))
        ws.send_text('{"type": "Terminate"}')
        messages, _, _ = until_close(ws)
    assert messages[-1]["audio_duration_seconds"] == seconds


def test_a_script_line_is_one_turn(ws_client: TestClient) -> None:
    with connect(ws_client, "sample_rate=16000&format_turns=true&speaker_labels=true") as ws:
        ws.receive_json()
        turns = []
        for _ in range(6):  # 5400 ms: the 17 words of line one take 5100
            ws.send_bytes(pcm(900))
            turns.append(ws.receive_json())
        ends = [t for t in turns if t["end_of_turn"]]
        while len(ends) < 2:
            ends.append(ws.receive_json())
        ws.send_text('{"type": "Terminate"}')
        until_close(ws)
    raw, formatted = ends
    assert raw["transcript"] == FIRST_LINE.lower().replace(",", "").replace(".", "").replace("?", "")
    assert formatted["transcript"] == FIRST_LINE
    assert formatted["words"][-1] == {**formatted["words"][-1], "text": "today?", "start": 4800, "end": 5100}
    assert raw["end_of_turn_confidence"] == 0.9
    assert raw["speaker_label"] == formatted["speaker_label"] == "A"


def test_mulaw_words_are_timed_by_its_byte_rate(ws_client: TestClient) -> None:
    with connect(ws_client, "sample_rate=8000&encoding=pcm_mulaw") as ws:
        ws.receive_json()
        ws.send_bytes(pcm(600, sample_rate=8000, bytes_per_sample=1))  # 4800 bytes = 600 ms
        turn = ws.receive_json()
    assert words_of(turn) == [("thank", 0, 300, True), ("you", 300, 600, True)]


def test_force_endpoint_ends_the_turn_and_the_next_line_starts_at_the_audio(ws_client: TestClient) -> None:
    with connect(ws_client, "sample_rate=16000&speaker_labels=true") as ws:
        ws.receive_json()
        ws.send_bytes(pcm(700))
        assert ws.receive_json()["transcript"] == "thank you"
        ws.send_text('{"type": "ForceEndpoint"}')
        forced = ws.receive_json()
        assert (forced["end_of_turn"], forced["end_of_turn_confidence"]) == (True, 1.0)
        assert forced["transcript"] == "thank you"
        ws.send_bytes(pcm(300))
        nxt = ws.receive_json()
    assert (nxt["turn_order"], nxt["speaker_label"]) == (1, "B")
    assert words_of(nxt) == [("hi", 700, 1000, True)]


def test_update_configuration_turns_formatting_on(ws_client: TestClient) -> None:
    with connect(ws_client) as ws:
        ws.receive_json()
        ws.send_text('{"type": "UpdateConfiguration", "format_turns": true, "max_turn_silence": null}')
        ws.send_bytes(pcm(600))
        ws.receive_json()
        ws.send_text('{"type": "Terminate"}')
        messages, _, _ = until_close(ws)
    assert [m.get("turn_is_formatted") for m in messages] == [False, True, None]
    assert messages[1]["transcript"] == "Thank you"


def test_language_detection_labels_final_turns(ws_client: TestClient) -> None:
    with connect(ws_client, "sample_rate=16000&language_detection=True") as ws:  # the SDK's spelling
        ws.receive_json()
        ws.send_bytes(pcm(300))
        partial = ws.receive_json()
        ws.send_text('{"type": "ForceEndpoint"}')
        final = ws.receive_json()
    assert "language_code" not in partial
    assert (final["language_code"], final["language_confidence"]) == ("en", 0.99)


def token(ws_client: TestClient, **params: int) -> str:
    response = ws_client.get("/v3/token", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    value = response.json()["token"]
    assert isinstance(value, str)
    return value


def test_a_temporary_token_in_the_query_opens_one_session(
    ws_client: TestClient, simulator: Simulator
) -> None:
    issued = token(ws_client, expires_in_seconds=60, max_session_duration_seconds=600)
    with connect(ws_client, f"sample_rate=16000&token={issued}", key=None) as ws:
        begin = ws.receive_json()
    assert begin["expires_at"] == int(simulator.wall_now().timestamp()) + 600
    assert refused(ws_client, f"sample_rate=16000&token={issued}", key=None) == (
        "Unauthorized Connection: Token has already been used",
        1008,
        "Unauthorized Connection: Token has already been used",
    )
    assert issued not in "".join(r.query for r in simulator.requests)


def test_a_temporary_token_in_authorization_as_the_sdk_sends_it(ws_client: TestClient) -> None:
    with connect(ws_client, key=token(ws_client, expires_in_seconds=60)) as ws:
        assert ws.receive_json()["type"] == "Begin"


def test_an_expired_token_is_refused(ws_client: TestClient, clock: ManualClock) -> None:
    issued = token(ws_client, expires_in_seconds=30)
    clock.advance(30)
    message, code, _ = refused(ws_client, key=issued)
    assert (message, code) == ("Unauthorized Connection: Signature has expired", 1008)


def test_an_agents_token_is_not_a_streaming_token(ws_client: TestClient) -> None:
    response = ws_client.get(
        "/v1/token", params={"expires_in_seconds": 60}, headers={"Authorization": API_KEY}
    )
    message, code, _ = refused(ws_client, key=response.json()["token"])
    assert (message, code) == ("Unauthorized Connection: Invalid API key or token", 1008)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "Unauthorized Connection: Missing Authorization header"),
        ("not-the-key", "Unauthorized Connection: Invalid API key or token"),
    ],
)
def test_bad_auth_closes_1008(ws_client: TestClient, key: str | None, message: str) -> None:
    assert refused(ws_client, key=key) == (message, 1008, message)


def test_session_past_its_token_limit_closes_3008(ws_client: TestClient, clock: ManualClock) -> None:
    issued = token(ws_client, expires_in_seconds=60, max_session_duration_seconds=60)
    with connect(ws_client, key=issued) as ws:
        ws.receive_json()
        clock.advance(60)
        ws.send_bytes(pcm(100))
        messages, code, reason = until_close(ws)
    expected = "Session Expired: Maximum session duration exceeded"
    assert messages == [{"type": "Error", "error_code": 3008, "error": expected}]
    assert (code, reason) == (3008, expected)


def test_inactivity_timeout_terminates_the_session(ws_client: TestClient, clock: ManualClock) -> None:
    with connect(ws_client, "sample_rate=16000&inactivity_timeout=5") as ws:
        ws.receive_json()
        ws.send_bytes(pcm(300))
        ws.receive_json()
        clock.advance(5)
        ws.send_text('{"type": "KeepAlive"}')  # too late: the deadline is checked before it counts
        messages, code, _ = until_close(ws)
    assert [m["type"] for m in messages] == ["Turn", "Termination"]
    assert messages[-1]["session_duration_seconds"] == 5
    assert code == 1000


def test_activity_moves_the_idle_deadline(ws_client: TestClient, clock: ManualClock) -> None:
    with connect(ws_client, "sample_rate=16000&inactivity_timeout=5") as ws:
        ws.receive_json()
        clock.advance(4)
        ws.send_bytes(pcm(300))
        assert ws.receive_json()["type"] == "Turn"  # the server saw it at +4 s
        clock.advance(4)  # +8 s: 4 s after the last audio, 8 s after the start
        ws.send_bytes(pcm(300))
        assert ws.receive_json()["type"] == "Turn"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sample_rate=0", "sample_rate must be a positive integer"),
        ("sample_rate=fast", "sample_rate must be an integer"),
        ("encoding=flac", "encoding must be one of: aac, ogg_opus, opus, pcm_mulaw, pcm_s16le"),
        ("speech_model=best", "speech_model must be one of: "),
        ("format_turns=maybe", "format_turns must be a boolean"),
        ("inactivity_timeout=4", "inactivity_timeout must be between 5 and 3600"),
        ("max_speakers=11", "max_speakers must be between 1 and 10"),
        ("end_of_turn_confidence_threshold=2", "end_of_turn_confidence_threshold must be between 0 and 1"),
        ('keyterms_prompt=["a",1]', "keyterms_prompt must be a JSON array of strings"),
    ],
)
def test_bad_connection_parameters_close_3006(ws_client: TestClient, query: str, message: str) -> None:
    error, code, _ = refused(ws_client, query)
    assert code == 3006
    assert error.startswith(f"Invalid query parameter: {message}")


def test_unknown_parameters_are_ignored(ws_client: TestClient) -> None:
    with connect(ws_client, "sample_rate=16000&voice_focus=near-field&mode=balanced") as ws:
        assert ws.receive_json()["type"] == "Begin"


@pytest.mark.parametrize(
    ("frame_ms", "shown"),
    [(1100, 1100), (40, 40)],
)
def test_a_frame_outside_50_to_1000_ms_closes_3007(ws_client: TestClient, frame_ms: int, shown: int) -> None:
    with connect(ws_client) as ws:
        ws.receive_json()
        ws.send_bytes(pcm(frame_ms))
        messages, code, reason = until_close(ws)
    expected = f"Input duration violation: {shown} ms. Expected between 50 and 1000 ms"
    assert messages == [{"type": "Error", "error_code": 3007, "error": expected}]
    assert (code, reason) == (3007, expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "Invalid JSON: {not json"),
        ("[]", "Invalid Message: []"),
        ('{"type": "Pause"}', "Invalid Message Type: Pause"),
        ('{"format_turns": true}', "Invalid Message Type: None"),
        (
            '{"type": "UpdateConfiguration", "format_turns": "yes"}',
            "Invalid Message: format_turns must be a boolean",
        ),
        (
            '{"type": "UpdateConfiguration", "min_turn_silence": 1.5}',
            "Invalid Message: min_turn_silence must be an integer",
        ),
    ],
)
def test_bad_client_messages_close_3006(ws_client: TestClient, text: str, message: str) -> None:
    with connect(ws_client) as ws:
        ws.receive_json()
        ws.send_text(text)
        messages, code, reason = until_close(ws)
    assert messages == [{"type": "Error", "error_code": 3006, "error": message}]
    assert (code, reason) == (3006, message)


def test_a_reason_too_long_for_a_close_frame_points_at_the_error_frame(ws_client: TestClient) -> None:
    with connect(ws_client) as ws:
        ws.receive_json()
        ws.send_text("x" * 500)
        messages, code, reason = until_close(ws)
    assert messages[0]["error"] == "Invalid JSON: " + "x" * 200  # quoted, not echoed whole
    assert (code, reason) == (3006, "See Error message for details")


def test_the_http_routes_still_answer(ws_client: TestClient) -> None:
    response = ws_client.get(
        "/v3/token", params={"expires_in_seconds": 0}, headers={"Authorization": API_KEY}
    )
    assert response.status_code == 400


def test_one_session_over_the_concurrency_limit_closes_3009(clock: ManualClock) -> None:
    app = build_simulator_app(SimulatorConfig(api_key=API_KEY, clock=clock, max_streams=1))
    client = TestClient(app)
    with connect(client) as first:
        first.receive_json()
        message, code, _ = refused(client)
        assert (message, code) == ("Unauthorized Connection: Too many concurrent sessions", 3009)
        first.send_text('{"type": "Terminate"}')
        until_close(first)
    with connect(client) as again:  # the first session's slot is free again
        assert again.receive_json()["type"] == "Begin"


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("503", 503)])
def test_a_queued_status_fault_refuses_the_upgrade(
    ws_client: TestClient, simulator: Simulator, kind: str, status: int
) -> None:
    simulator.queue_fault(kind, path_prefix="/v3/ws")
    with pytest.raises(WebSocketDenialResponse) as denied, connect(ws_client):
        pass
    assert denied.value.status_code == status
    if status == 429:
        assert denied.value.headers["retry-after"] == str(simulator.config.retry_after_seconds)
    with connect(ws_client) as ws:  # one fault, one upgrade
        assert ws.receive_json()["type"] == "Begin"


def test_any_other_queued_fault_cancels_the_session_3005(ws_client: TestClient, simulator: Simulator) -> None:
    simulator.queue_fault("reset", path_prefix="/v3/ws")
    assert refused(ws_client) == (
        "Session Cancelled: An error occurred",
        3005,
        "Session Cancelled: An error occurred",
    )


def test_without_a_request_log_no_session_record_is_kept(clock: ManualClock) -> None:
    app = build_simulator_app(SimulatorConfig(api_key=API_KEY, clock=clock, record_requests=False))
    with connect(TestClient(app)) as ws:
        ws.receive_json()
        ws.send_text('{"type": "Terminate"}')
        assert until_close(ws)[1] == 1000
    assert app.state.simulator.streams == []


def test_audio_faster_than_real_time_closes_3007_when_paced(clock: ManualClock) -> None:
    app = build_simulator_app(SimulatorConfig(api_key=API_KEY, clock=clock, stream_realtime_factor=1.0))
    with connect(TestClient(app)) as ws:
        ws.receive_json()
        ws.send_bytes(pcm(1000))  # the 1 s head start
        ws.receive_json()
        clock.advance(2)
        ws.send_bytes(pcm(1000))  # 2 s of audio in 2 s
        ws.receive_json()
        ws.send_bytes(pcm(1000))
        ws.send_bytes(pcm(200))  # 3.2 s in 2 s: more than real time plus the head start
        messages, code, reason = until_close(ws)
    expected = "Audio Transmission Rate Exceeded: Received 3.2 sec. audio in 2.0 sec"
    assert messages[-1] == {"type": "Error", "error_code": 3007, "error": expected}
    assert (code, reason) == (3007, expected)
