"""uvicorn's WebSocket protocol (websockets, sans-I/O), with a refused upgrade counted as a finished
handshake.

An app that refuses an upgrade with an HTTP answer (the `websocket.http.response` extension: the
streaming proxy's 401/403) leaves uvicorn 0.54 thinking the handshake never completed, so it logs
"ASGI callable returned without completing handshake." at ERROR for every refused token
(Kludex/uvicorn#3138, open). The answer is already on the wire then: this marks it complete, as
uvicorn's wsproto implementation does.
"""

from __future__ import annotations

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class WebSocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True
