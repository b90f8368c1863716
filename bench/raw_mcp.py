"""A raw JSON-RPC MCP client over Streamable HTTP that does not validate results.

The mcp SDK client rejects FastMCP.from_openapi's results (`Invalid structured content ... None is
not of type 'object'`), so the peer comparison drives every server with this instead: the same
bytes on the wire for all of them, and the same (small) client cost: aiohttp itself, one keep-alive
connection per client (about a third of httpx's CPU per request here), since the client shares the
two cores with the servers it measures. It speaks both eras: the
2025-11-25 `initialize` handshake (with the session id when the server hands one out) and the
sessionless 2026-07-28 POSTs (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` headers and the
`_meta` the SDK client sends).
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import aiohttp
import orjson

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
CLIENT_INFO = {"name": "bench-raw", "version": "0.1.0"}


class RawClient:
    """One client (one connection, one session in the legacy era). `async with` it, then `call`."""

    def __init__(self, url: str, era: str) -> None:
        self.url = url
        self.era = era
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(60)
        )
        self.headers = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": era}
        self._ids = itertools.count(1)

    async def __aenter__(self) -> RawClient:
        await self.http.__aenter__()
        if self.era == LEGACY:
            await self._initialize()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.http.close()

    async def _initialize(self) -> None:
        self.headers.pop("MCP-Protocol-Version")
        params = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": CLIENT_INFO}
        response = await self._post("initialize", params, {})
        session = response.session
        if session:
            self.headers["Mcp-Session-Id"] = session
        self.headers["MCP-Protocol-Version"] = LEGACY
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        async with self.http.post(self.url, data=orjson.dumps(note), headers=self.headers) as answer:
            answer.raise_for_status()

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """tools/call; the JSON-RPC result (raises on a JSON-RPC error or an `isError` result)."""
        params: dict[str, Any] = {"name": tool, "arguments": arguments}
        extra = {}
        if self.era == MODERN:
            params["_meta"] = {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            extra = {"Mcp-Method": "tools/call", "Mcp-Name": tool}
        message = result_of(await self._post("tools/call", params, extra))
        if message.get("isError"):
            raise RuntimeError(f"{tool} returned isError: {str(message)[:300]}")
        return message

    async def _post(self, method: str, params: dict[str, Any], extra: dict[str, str]) -> Answer:
        body = orjson.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        headers = {**self.headers, **extra}
        try:
            return await self._send(body, headers)
        except aiohttp.ClientConnectionError:
            # The keep-alive race: a client idle while 19 others connect (seconds on a loaded machine)
            # may send on a connection the server is closing at its keep-alive timeout. Once, again.
            return await self._send(body, headers)

    async def _send(self, body: bytes, headers: dict[str, str]) -> Answer:
        async with self.http.post(self.url, data=body, headers=headers) as answer:
            answer.raise_for_status()
            content = await answer.read()
            return Answer(
                answer.headers.get("content-type", ""), content, answer.headers.get("mcp-session-id")
            )


class Answer(NamedTuple):
    content_type: str
    content: bytes
    session: str | None


def result_of(response: Answer) -> dict[str, Any]:
    """The JSON-RPC answer's result, from a JSON body or the last `data:` line of an SSE body."""
    body = response.content
    if response.content_type.startswith("text/event-stream"):
        lines = [line for line in body.splitlines() if line.startswith(b"data:")]
        body = lines[-1][5:] if lines else b"{}"
    message: dict[str, Any] = orjson.loads(body)
    if "error" in message or "result" not in message:
        raise RuntimeError(f"JSON-RPC error: {str(message)[:300]}")
    result: dict[str, Any] = message["result"]
    return result
