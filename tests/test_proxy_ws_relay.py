"""The streaming relay in memory: one frame in flight per direction (back-pressure, never a queue),
upstream's Termination read for usage, and the upgrade's credential rules."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from aai_mcp.gateway import Gateway
from aai_mcp.proxy.refusals import Refused
from aai_mcp.proxy.stream_in_process import in_process_session
from aai_mcp.proxy.stream_relay import Relay
from aai_mcp.proxy.stream_usage import estimated_audio_seconds, termination_audio_seconds
from aai_mcp.proxy.streaming import deny, refuse_temporary_token, token_subprotocol
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import Simulator
from aai_mcp.transports.http import build_http_app
from tests.support.proxy_harness import PROXY, proxy_gateway, proxy_token
from tests.support.servers import SIM_KEY
from tests.support.streaming_ws import pcm, until_close

pytestmark = pytest.mark.anyio
STREAM_URL = "ws://127.0.0.1" + PROXY + "/v3/ws?sample_rate=16000"
FRAME = b"\x01" * 3200


class GatedUpstream:
    """Upstream whose sends wait for a permit each; it sends the caller frames without end."""

    def __init__(self) -> None:
        self.permits = anyio.Semaphore(0)
        self.sent: list[str | bytes] = []
        self.recv_calls = 0
        self.close_code: int | None = None
        self.close_reason: str | None = None

    async def recv(self) -> str | bytes:
        self.recv_calls += 1
        return '{"type": "Turn", "transcript": "thank"}'

    async def send(self, message: str | bytes) -> None:
        await self.permits.acquire()
        self.sent.append(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.close_code, self.close_reason = code, reason


class SilentUpstream(GatedUpstream):
    """Sends nothing until closed."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = anyio.Event()

    async def recv(self) -> str | bytes:
        await self.closed.wait()
        raise ConnectionClosedOK(Close(1000, ""), Close(1000, ""), True)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await super().close(code, reason)
        self.closed.set()


class Caller:
    """The client side of the ASGI connection: endless audio frames in (none when silent), sends
    gated by permits."""

    def __init__(self, gate_sends: bool, silent: bool = False) -> None:
        self.silent = silent
        self.receive_calls = 0
        self.sent: list[Message] = []
        self.permits = anyio.Semaphore(0)
        self.gate_sends = gate_sends

    async def receive(self) -> Message:
        self.receive_calls += 1
        if self.silent:
            await anyio.sleep_forever()
        return {"type": "websocket.receive", "bytes": FRAME}

    async def send(self, message: Message) -> None:
        if self.gate_sends:
            await self.permits.acquire()
        self.sent.append(message)

    def websocket(self) -> WebSocket:
        websocket = WebSocket({"type": "websocket", "path": "/", "headers": []}, self.receive, self.send)
        websocket.client_state = websocket.application_state = WebSocketState.CONNECTED
        return websocket


async def test_a_caller_frame_is_read_only_once_upstream_took_the_one_before() -> None:
    caller, upstream = Caller(gate_sends=False), SilentUpstream()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(Relay(caller.websocket(), upstream).run)
        await anyio.wait_all_tasks_blocked()
        assert (caller.receive_calls, len(upstream.sent)) == (1, 0)  # one frame held, waiting upstream
        upstream.permits.release()
        await anyio.wait_all_tasks_blocked()
        assert (caller.receive_calls, len(upstream.sent)) == (2, 1)
        tasks.cancel_scope.cancel()


async def test_an_upstream_frame_is_read_only_once_the_caller_took_the_one_before() -> None:
    caller, upstream = Caller(gate_sends=True), GatedUpstream()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(Relay(caller.websocket(), upstream).run)
        await anyio.wait_all_tasks_blocked()
        assert (upstream.recv_calls, len(caller.sent)) == (1, 0)
        caller.permits.release()
        await anyio.wait_all_tasks_blocked()
        assert (upstream.recv_calls, len(caller.sent)) == (2, 1)
        tasks.cancel_scope.cancel()


async def test_the_caller_leaving_closes_upstream() -> None:
    upstream = SilentUpstream()

    async def leave() -> Message:
        return {"type": "websocket.disconnect", "code": 1006}

    async def send(message: Message) -> None:
        raise AssertionError(f"nothing is sent to a caller that left: {message}")

    websocket = WebSocket({"type": "websocket", "path": "/", "headers": []}, leave, send)
    websocket.client_state = websocket.application_state = WebSocketState.CONNECTED
    relay = Relay(websocket, upstream)
    with anyio.fail_after(30):
        await relay.run()
    assert (relay.outcome, upstream.close_code) == ("client_left", 1000)


def test_the_termination_message_gives_the_audio_seconds() -> None:
    termination = {"type": "Termination", "audio_duration_seconds": 232.192, "session_duration_seconds": 240}
    assert termination_audio_seconds(json.dumps(termination)) == 232.192
    assert termination_audio_seconds('{"type": "Turn", "transcript": "Termination"}') is None
    assert termination_audio_seconds('{"type": "Termination", "audio_duration_seconds": "5"}') is None
    assert termination_audio_seconds("not json with Termination") is None


@pytest.mark.parametrize(
    ("query", "seconds"),
    [
        (b"", 1.0),  # pcm_s16le at 16 kHz: the defaults
        (b"sample_rate=8000&encoding=pcm_mulaw", 4.0),
        (b"sample_rate=16000&encoding=opus", None),  # frames of no fixed size
        (b"sample_rate=abc", None),
    ],
)
def test_audio_is_estimated_from_the_pcm_relayed(query: bytes, seconds: float | None) -> None:
    assert estimated_audio_seconds(query, 32000) == seconds


def test_two_different_token_subprotocols_are_refused() -> None:
    assert token_subprotocol(["chat", "aai-mcp-token.a"]) == "aai-mcp-token.a"
    assert token_subprotocol(["chat"]) is None
    with pytest.raises(Refused) as refused:
        token_subprotocol(["aai-mcp-token.a", "aai-mcp-token.b"])
    assert (refused.value.status, refused.value.code) == (400, "conflicting_credentials")


@pytest.mark.parametrize("query", [b"token=abc", b"sample_rate=16000&token=", b"token"])
def test_a_temporary_streaming_token_is_not_a_credential_here(query: bytes) -> None:
    with pytest.raises(Refused) as refused:
        refuse_temporary_token(query)
    assert refused.value.code == "temporary_token_not_accepted"


def test_without_a_key_the_in_process_simulator_streams_through_the_proxy() -> None:
    gateway = proxy_gateway(None, api_key=None)
    with TestClient(build_http_app(gateway), base_url="http://127.0.0.1") as client:
        with client.websocket_connect(STREAM_URL, headers={"Authorization": proxy_token()}) as ws:
            assert ws.receive_json()["type"] == "Begin"
            ws.send_bytes(pcm(300))
            assert ws.receive_json()["transcript"] == "thank"
            ws.send_text(json.dumps({"type": "Terminate"}))
            messages, code, _ = until_close(ws)
    assert messages[-1]["type"] == "Termination" and code == 1000


def simulated_upstream() -> tuple[Gateway, Simulator]:
    """A gateway whose AssemblyAI is a simulator app in process (recording its sessions)."""
    app = build_simulator_app(SimulatorConfig(api_key=SIM_KEY))
    gateway = proxy_gateway(httpx.ASGITransport(app=app), api_key=SIM_KEY)
    return gateway, app.state.simulator


def test_an_upgrade_the_in_process_simulator_refuses_keeps_its_status_and_retry_after() -> None:
    gateway, simulator = simulated_upstream()
    simulator.queue_fault("429", path_prefix="/v3/ws")
    with TestClient(build_http_app(gateway), base_url="http://127.0.0.1") as client:
        with pytest.raises(WebSocketDenialResponse) as denied:
            with client.websocket_connect(STREAM_URL, headers={"Authorization": proxy_token()}):
                pass
    assert (denied.value.status_code, denied.value.json()["code"]) == (429, "upstream_refused")
    assert int(denied.value.headers["retry-after"]) >= 1
    scrape = gateway.metrics.exposition().decode()
    assert 'aai_mcp_upstream_rate_limited_total{host="streaming"} 1.0' in scrape


def test_a_caller_leaving_ends_the_in_process_session() -> None:
    gateway, simulator = simulated_upstream()
    with TestClient(build_http_app(gateway), base_url="http://127.0.0.1") as client:
        with client.websocket_connect(STREAM_URL, headers={"Authorization": proxy_token()}) as ws:
            ws.receive_json()
            ws.send_bytes(pcm(300))
            assert ws.receive_json()["transcript"] == "thank"
        # Leaving the block closes the caller's side; the session ends before the app stops.
    assert [(s.audio_ms, s.close_code) for s in simulator.streams] == [(300, 1000)]


class LostUpstream(SilentUpstream):
    """Its connection drops without a close frame."""

    async def recv(self) -> str | bytes:
        raise ConnectionClosedError(None, None)


async def test_an_upstream_lost_without_a_close_frame_closes_the_caller_with_1014() -> None:
    caller = Caller(gate_sends=False, silent=True)
    relay = Relay(caller.websocket(), LostUpstream())
    with anyio.fail_after(30):
        await relay.run()
    assert caller.sent[-1]["type"] == "websocket.close"
    assert (caller.sent[-1]["code"], relay.outcome) == (1014, "ended")


async def test_closing_an_in_process_session_never_waits_on_an_app_that_only_sends() -> None:
    async def chatty(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while True:  # never reads again
            await send({"type": "websocket.send", "text": "turn"})

    with anyio.fail_after(30):
        async with in_process_session(chatty, httpx.URL("ws://sim/v3/ws"), SIM_KEY) as session:
            assert await session.recv() == "turn"
            await session.send(FRAME)  # taken by nobody: the app's inbox is now full
        assert session.app_done.is_set()


async def test_without_the_denial_extension_a_refusal_closes_with_4000_plus_its_status() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    websocket = WebSocket({"type": "websocket", "path": "/", "headers": [], "extensions": {}}, receive, send)
    await deny(websocket, Refused(403, "proxy_not_allowed", "no proxy scope"))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
    assert (sent[1]["code"], sent[1]["reason"]) == (4403, "proxy_not_allowed")
