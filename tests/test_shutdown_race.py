"""The shutdown race that lost a drained wait's answer, made deterministic.

sse-starlette's shutdown watcher (sse_starlette/sse.py `_shutdown_watcher`, polling every 0.5 s) used
to cancel every SSE response once it saw uvicorn's exit flag, while the answer of the wait that
shutdown cuts short was still being produced. Here shutdown is held until that watcher has seen the
exit flag, and the answer until everything shutdown does to open streams has happened (a legacy /sse
stream, which carries the answers, must wait for them): the answer must still reach the client.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import mcp_types as types
import pytest
import sse_starlette.sse as sse_starlette
import uvicorn
from mcp.client import Client
from mcp.client.sse import sse_client

from aai_mcp.cli.serving import bind
from aai_mcp.gateway import build_gateway
from aai_mcp.transports.connections import server_config
from aai_mcp.transports.draining import draining_for
from aai_mcp.transports.http import DrainingServer, build_http_app
from tests.support import make_settings

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # uvicorn on loopback

BOUND_SECONDS = 30.0
QUIET_SECONDS = 1.0
GRACE_SECONDS = 25  # far more than shutdown takes when every stream ends in time
AUDIO_URL = "https://example.com/calls/long-meeting.mp3"
# The client's legacy mode: the modern one is answered without an SSE response, so it never raced.
TRANSPORTS = {
    "streamable-http-stateless": (True, "legacy"),
    "streamable-http-sessions": (False, "legacy"),
    "legacy-sse": (False, "legacy"),
}


class ShutdownAfterWatcher(DrainingServer):
    """uvicorn whose shutdown (and so the drain that produces the wait's answer) waits until
    sse-starlette's watcher has looked at the exit flag."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Any, watcher_looked: anyio.Event) -> None:
        super().__init__(config, on_shutdown)
        self.watcher_looked = watcher_looked

    async def shutdown(self, sockets: Any = None) -> None:
        with anyio.fail_after(BOUND_SECONDS, shield=True):
            await self.watcher_looked.wait()
        await super().shutdown(sockets)


@contextmanager
def sigterm_absorbed() -> Iterator[None]:
    """uvicorn re-raises the signal it was stopped with once it has shut down: within this test
    process that must not terminate pytest."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_a_drained_wait_answers_even_when_sse_starlette_sees_the_exit_first(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher_looked = anyio.Event()
    find_server: Callable[[], Any] = sse_starlette._get_uvicorn_server  # untyped upstream

    def watched() -> Any:
        server = find_server()
        if server is not None and server.should_exit:
            watcher_looked.set()
        return server

    monkeypatch.setattr(sse_starlette, "_get_uvicorn_server", watched)
    stateless, mode = TRANSPORTS[transport]
    settings = make_settings(
        api_key=None,
        simulator_delay_seconds=600.0,
        wait_max_seconds=600,
        stateless=stateless,
        shutdown_grace_seconds=GRACE_SECONDS,
    )
    gateway = build_gateway(settings)
    draining = draining_for(gateway)
    call = gateway.runner.call

    async def answer_late(name: str, *args: Any, **kwargs: Any) -> types.CallToolResult:
        result = await call(name, *args, **kwargs)
        if name == "wait_for_transcript":
            await draining.began()
            # Until whatever shutdown does to open streams has happened: the loop goes quiet, or (the
            # client's own tasks share this loop and may keep it busy reconnecting) a second passes.
            with anyio.move_on_after(QUIET_SECONDS):
                await anyio.wait_all_tasks_blocked()
        return result

    monkeypatch.setattr(gateway.runner, "call", answer_late)
    config = server_config(build_http_app(gateway, draining=draining), settings, log_level="warning")
    server = ShutdownAfterWatcher(config, draining.begin, watcher_looked)
    listener = bind("127.0.0.1", 0)
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    stopped = anyio.Event()

    async def serve() -> None:
        await server.serve([listener])
        stopped.set()

    with listener, sigterm_absorbed(), anyio.fail_after(BOUND_SECONDS):
        async with anyio.create_task_group() as group:
            group.start_soon(serve)
            while not server.started:
                await anyio.sleep(0.02)  # uvicorn offers no event for "listening"
            result = await wait_cut_short_by_shutdown(server, base_url, transport, mode, stopped)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["timed_out"] is True
    assert result.structured_content["status"] in ("queued", "processing")
    assert not sse_starlette.AppStatus.should_exit, "sse-starlette's process-wide exit switch stays off"


async def wait_cut_short_by_shutdown(
    server: uvicorn.Server, base_url: str, transport: str, mode: str, stopped: anyio.Event
) -> types.CallToolResult:
    """The answer of a wait that shutdown cut short; the server must then stop while the client is
    still connected (every stream it holds ended by the server, not waited out for the grace period)."""
    url = sse_client(f"{base_url}/sse") if transport == "legacy-sse" else f"{base_url}/mcp"
    async with Client(url, mode=mode) as client:
        created = await client.call_tool("create_transcript", {"audio_url": AUDIO_URL})
        arguments = {"transcript_id": created.structured_content["id"], "timeout_seconds": 500}

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            if not server.should_exit:
                server.handle_exit(signal.SIGTERM, None)  # what uvicorn's SIGTERM handler calls

        result = await client.call_tool("wait_for_transcript", arguments, progress_callback=on_progress)
        with anyio.move_on_after(GRACE_SECONDS / 2):
            await stopped.wait()
        assert stopped.is_set(), "the server ended its streams itself instead of waiting out the grace period"
    assert result.structured_content is not None
    assert result.structured_content["id"] == arguments["transcript_id"]
    return result
