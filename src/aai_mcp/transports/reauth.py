"""Long-lived streams end when their credential stops being valid (revoked, expired).

Every request is authenticated when it arrives, but a stream (a session's GET stream, a legacy /sse
stream) is one request that can stay open for days: without a recheck, a revoked token would keep
receiving what the server sends on it. The stream's own credentials are checked again periodically.
A stream also ends when its `ends` returns: at shutdown, once what it carries has been sent (see draining).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aai_mcp.access.principal import Authenticator, AuthFailure
from aai_mcp.transports.auth import credential_principal


class WhileAuthorized:
    """Runs `app` for one streaming request, ending its response once its credential is refused or
    `ends` returns."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        recheck_seconds: float,
        ends: Callable[[], Awaitable[None]],
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.recheck_seconds = recheck_seconds
        self.ends = ends

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = anyio.Event()
        started = ended = False

        async def tracked(message: Message) -> None:
            nonlocal started, ended
            started = started or message["type"] == "http.response.start"
            ended = ended or (message["type"] == "http.response.body" and not message.get("more_body"))
            await send(message)

        async def receive_until_refused() -> Message:
            # To the app a refused credential (or shutdown) looks like the client going away: it ends
            # the stream the way it always does, closing what it holds (cancelling it would not).
            message: Message = {"type": "http.disconnect"}
            async with anyio.create_task_group() as race:

                async def arrived() -> None:
                    nonlocal message
                    message = await receive()
                    race.cancel_scope.cancel()

                race.start_soon(arrived)
                await refused.wait()
                race.cancel_scope.cancel()
            return message

        async with anyio.create_task_group() as group:
            group.start_soon(self._watch, scope, refused)
            group.start_soon(self._until_ends, refused)
            await self.app(scope, receive_until_refused, tracked)
            group.cancel_scope.cancel()
        if started and not ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _until_ends(self, refused: anyio.Event) -> None:
        await self.ends()
        refused.set()

    async def _watch(self, scope: Scope, refused: anyio.Event) -> None:
        while True:
            await anyio.sleep(self.recheck_seconds)
            try:
                credential_principal(self.authenticator, scope)
            except AuthFailure:
                refused.set()
                return
