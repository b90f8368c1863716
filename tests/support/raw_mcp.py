"""Plain-HTTP MCP requests for tests that need exact control over sessions, ids and streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from aai_mcp.access import Scopes, mint
from aai_mcp.config.settings import Settings
from tests.support import make_settings

SECRET = "session-signing-secret-0123456789abcdef"
VERSION = "2025-06-18"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}


def token_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"api_key": None, "auth": ["tokens"], "token_secrets": SECRET, **overrides}
    return make_settings(**values)


def bearer(scopes: Scopes | None = None, name: str = "session test") -> dict[str, str]:
    token = mint(SECRET.encode(), name=name, scopes=scopes or Scopes(), expires_at=None).token
    return {"Authorization": f"Bearer {token}"}


def call(request_id: int | str, tool: str, **arguments: Any) -> dict[str, Any]:
    params = {"name": tool, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def request(request_id: int | str, method: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {}}


def messages(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an SSE (or JSON) response body."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return [response.json()]
    return [
        json.loads(line[5:])
        for line in response.text.splitlines()
        if line.startswith("data:") and line[5:].strip()
    ]


class Session:
    """One Streamable HTTP session opened with one principal's credentials."""

    def __init__(self, http: httpx.Client, url: str, auth: dict[str, str]) -> None:
        self.http, self.url, self.auth = http, url, auth
        opened = http.post(url, json=INITIALIZE, headers={**HEADERS, **auth})
        assert opened.status_code == 200, opened.text
        self.id = opened.headers["mcp-session-id"]
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}).raise_for_status()

    def headers(self, auth: dict[str, str] | None = None) -> dict[str, str]:
        return {**HEADERS, **(auth or self.auth), "Mcp-Session-Id": self.id, "MCP-Protocol-Version": VERSION}

    def post(self, body: dict[str, Any], auth: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(self.url, json=body, headers=self.headers(auth))

    def result(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(body)
        assert response.status_code == 200, response.text
        (answer,) = [message for message in messages(response) if message.get("id") == body["id"]]
        return answer

    @contextmanager
    def stream(self, method: str, body: dict[str, Any] | None = None) -> Iterator[httpx.Response]:
        with self.http.stream(method, self.url, json=body, headers=self.headers()) as response:
            yield response

    def delete(self, auth: dict[str, str] | None = None) -> httpx.Response:
        return self.http.delete(self.url, headers=self.headers(auth))
