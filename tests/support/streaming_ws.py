"""Helpers for the streaming WebSocket tests: connect, read until the close, PCM of a length."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from tests.support.simulator_harness import API_KEY


def pcm(ms: int, sample_rate: int = 16000, bytes_per_sample: int = 2) -> bytes:
    return b"\x01" * (ms * sample_rate * bytes_per_sample // 1000)


def connect(
    client: TestClient, query: str = "sample_rate=16000", key: str | None = API_KEY
) -> AbstractContextManager[WebSocketTestSession]:
    headers = {"Authorization": key} if key is not None else {}
    return client.websocket_connect(f"/v3/ws?{query}", headers=headers)


def until_close(ws: WebSocketTestSession) -> tuple[list[dict[str, Any]], int, str]:
    """Every message left, then the close code and reason."""
    messages: list[dict[str, Any]] = []
    while True:
        try:
            messages.append(ws.receive_json())
        except WebSocketDisconnect as closed:
            return messages, closed.code, closed.reason


def refused(client: TestClient, query: str = "sample_rate=16000", key: str | None = API_KEY) -> Any:
    """The Error frame and close of a session refused before Begin."""
    with connect(client, query, key) as ws:
        messages, code, reason = until_close(ws)
    assert len(messages) == 1, messages
    error = messages[0]
    assert error["type"] == "Error" and error["error_code"] == code
    return error["error"], code, reason
