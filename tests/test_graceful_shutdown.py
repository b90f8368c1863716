"""Graceful shutdown: SIGTERM in the middle of a call gives the client a result or a clear error, never
a hang, and the process exits within a bound. Closing stdin ends `aai-mcp stdio` the same way.

Every wait here has a deadline. Run with `-s` to see the measured times.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp.client import Client
from mcp.client.sse import sse_client

from tests.support import error_details
from tests.support.servers import (
    SIM_KEY,
    ServerProcess,
    clean_env,
    serve_in_process,
    simulator_env,
    standalone_simulator,
    upstream_args,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

EXIT_BOUND_SECONDS = 15.0
CALL_BOUND_SECONDS = 30.0
SLOW_JOB = ("--simulator-delay-seconds", "600", "--wait-max-seconds", "600")
AUDIO_URL = "https://example.com/calls/long-meeting.mp3"


@dataclass
class Stopped:
    result: types.CallToolResult
    answered_after: float
    exited_after: float


async def sigterm_during(
    client: Client,
    server: ServerProcess,
    name: str,
    arguments: dict[str, Any],
    in_flight: Callable[[], Awaitable[None]],
    progress: Any = None,
) -> Stopped:
    """Call a tool, SIGTERM the server once `in_flight` returns, time the answer and the exit."""
    sent: list[float] = []

    async def terminate() -> None:
        with anyio.fail_after(CALL_BOUND_SECONDS):
            await in_flight()
        sent.append(time.monotonic())
        server.process.send_signal(signal.SIGTERM)

    async with anyio.create_task_group() as group:
        group.start_soon(terminate)
        with anyio.fail_after(CALL_BOUND_SECONDS):
            result = await client.call_tool(name, arguments, progress_callback=progress)
    answered = time.monotonic() - sent[0]
    try:
        await anyio.to_thread.run_sync(server.process.wait, EXIT_BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: still running {EXIT_BOUND_SECONDS} s after SIGTERM:\n{server.stderr()}")
    exited = time.monotonic() - sent[0]
    # uvicorn re-raises the signal once it has shut down, so the exit status is "terminated by SIGTERM".
    assert server.process.returncode in (0, -signal.SIGTERM), server.stderr()
    assert "Traceback" not in server.stderr()
    print(f"\n{name}: answered {answered:.2f} s and exited {exited:.2f} s after SIGTERM")
    return Stopped(result, answered, exited)


TRANSPORTS = {
    "streamable-http-stateless": (("--stateless",), "auto"),
    "streamable-http-sessions": ((), "legacy"),
    "legacy-sse": ((), "legacy"),
}


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_sigterm_ends_a_long_wait_at_once_with_the_transcript_id(transport: str) -> None:
    flags, mode = TRANSPORTS[transport]
    with serve_in_process(*flags, *SLOW_JOB) as server:
        url = sse_client(f"{server.base_url}/sse") if transport == "legacy-sse" else f"{server.base_url}/mcp"
        async with Client(url, mode=mode) as client:
            created = await client.call_tool("create_transcript", {"audio_url": AUDIO_URL})
            transcript_id = created.structured_content["id"]
            polled = anyio.Event()

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                polled.set()

            stopped = await sigterm_during(
                client,
                server,
                "wait_for_transcript",
                {"transcript_id": transcript_id, "timeout_seconds": 500},
                polled.wait,
                on_progress,
            )
    result = stopped.result
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["id"] == transcript_id
    assert result.structured_content["timed_out"] is True
    assert result.structured_content["status"] in ("queued", "processing")
    assert f"transcript_id={transcript_id}" in result.structured_content["next_step"]
    assert stopped.answered_after < 3, (
        "the wait ends when shutdown begins, not when the grace period runs out"
    )
    assert stopped.exited_after < EXIT_BOUND_SECONDS


UPLOADS = {
    # upstream answers in 1.5 s: well inside the default 10 s grace, so the upload completes
    "finishes-within-grace": (1_500, ()),
    # upstream answers in 60 s: the call is cut short before the 4 s grace ends, with a clear error
    "cut-short": (60_000, ("--shutdown-grace-seconds", "4")),
}


@pytest.mark.parametrize("case", list(UPLOADS))
async def test_sigterm_during_an_upload(case: str, tmp_path: Path) -> None:
    latency_ms, flags = UPLOADS[case]
    audio = tmp_path / "meeting.wav"
    with audio.open("wb") as handle:
        handle.write(b"RIFF\x00\x00\x00\x00WAVEfmt ")
        handle.truncate(8 * 1024 * 1024)
    with standalone_simulator("--latency-ms", str(latency_ms)) as simulator:
        simulator_url = simulator.base_url
        args = ("--stateless", "--upload-roots", str(tmp_path), *flags, *upstream_args(simulator_url))
        with serve_in_process(*args, env=simulator_env()) as server:

            async def upload_reached_upstream() -> None:
                admin = {"Authorization": SIM_KEY}  # the simulator's /_sim/ routes need its key
                async with httpx.AsyncClient(base_url=simulator_url, headers=admin, timeout=5) as sim:
                    while not (await sim.get("/_sim/stats")).json()["requests"].get("POST /v2/upload"):
                        await anyio.sleep(0.05)

            async with Client(f"{server.base_url}/mcp") as client:
                await client.list_tools()  # the client checks results against these schemas
                stopped = await sigterm_during(
                    client, server, "upload_file", {"path": str(audio)}, upload_reached_upstream
                )
    result = stopped.result
    if case == "finishes-within-grace":
        assert not result.is_error, result.content
        assert result.structured_content["size_bytes"] == audio.stat().st_size
        assert result.structured_content["upload_url"].startswith("https://")
    else:
        assert result.is_error
        error = error_details(result)
        assert (error["kind"], error["retryable"]) == ("shutting_down", True)
        assert "shutting down" in error["message"] and "upload_file" in error["message"]
        assert stopped.answered_after < 4, "cut short before the grace period ends, so the answer gets out"
    assert stopped.exited_after < EXIT_BOUND_SECONDS


async def test_closing_stdin_ends_stdio_during_a_wait() -> None:
    command = [sys.executable, "-m", "aai_mcp", "stdio", *SLOW_JOB]
    async with await anyio.open_process(command, env=clean_env(), stderr=subprocess.DEVNULL) as process:
        stdin, stdout = process.stdin, process.stdout
        assert stdin is not None and stdout is not None
        lines = BufferedByteReceiveStream(stdout)

        async def send(method: str, params: dict[str, Any], request_id: int | None = None) -> dict[str, Any]:
            """One JSON-RPC line out; for a request, the next line back."""
            message = {"jsonrpc": "2.0", "method": method, "params": params}
            await stdin.send(
                (json.dumps(message if request_id is None else {**message, "id": request_id}) + "\n").encode()
            )
            if request_id is None:
                return {}
            with anyio.fail_after(CALL_BOUND_SECONDS):
                return dict(json.loads(await lines.receive_until(b"\n", 1_000_000)))

        client = {"name": "shutdown-test", "version": "1"}
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client}
        assert (await send("initialize", hello, 1))["result"]["protocolVersion"] == "2025-11-25"
        await send("notifications/initialized", {})
        created = await send(
            "tools/call", {"name": "create_transcript", "arguments": {"audio_url": AUDIO_URL}}, 2
        )
        wait = {"transcript_id": created["result"]["structuredContent"]["id"], "timeout_seconds": 500}
        first = await send(
            "tools/call", {"name": "wait_for_transcript", "arguments": wait, "_meta": {"progressToken": 1}}, 3
        )
        assert first["method"] == "notifications/progress", "the wait is under way"

        closed = time.monotonic()
        await stdin.aclose()
        with anyio.fail_after(EXIT_BOUND_SECONDS):
            await process.wait()
        exited = time.monotonic() - closed
    print(f"\nstdio: exited {exited:.2f} s after stdin closed, status {process.returncode}")
    assert process.returncode == 0
    assert exited < 5
