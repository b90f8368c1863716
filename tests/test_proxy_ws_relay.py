"""The streaming relay in memory: one frame in flight per direction (back-pressure, never a queue),
upstream's Termination read for usage, and the upgrade's credential rules."""

from __future__ import annotations

import json

import anyio
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketState
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from aai_mcp.proxy.refusals import Refused
from aai_mcp.proxy.stream_relay import Relay
from aai_mcp.proxy.stream_usage import estimated_audio_seconds, termination_audio_seconds
from aai_mcp.proxy.streaming import refuse_temporary_token, token_subprotocol
from aai_mcp.transports.http import build_http_app
from tests.support.proxy_harness import PROXY, proxy_gateway, proxy_token

pytestmark = pytest.mark.anyio
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
        raise ConnectionClosedOK(Close(1000, ""), Close(1000, ""))

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


def test_without_a_key_the_in_process_simulator_cannot_stream() -> None:
    gateway = proxy_gateway(None, api_key=None)
    with TestClient(build_http_app(gateway), base_url="http://127.0.0.1") as client:
        with pytest.raises(WebSocketDenialResponse) as denied:
            url = "ws://127.0.0.1" + PROXY + "/v3/ws"
            with client.websocket_connect(url, headers={"Authorization": proxy_token()}):
                pass
    assert denied.value.status_code == 503
    assert denied.value.json()["error"]["code"] == "streaming_unavailable"


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
