"""Real servers on loopback for end-to-end tests: uvicorn in a thread, or the CLI in a subprocess."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from aai_mcp.access.principal import Authenticator
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.transports.connections import server_config
from aai_mcp.transports.http import build_http_app

STARTUP_TIMEOUT = 30.0


def wait_until(condition: Any, timeout: float = STARTUP_TIMEOUT, what: str = "condition") -> None:
    """Poll a readiness condition (a socket coming up) with a deadline; not a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def serve_in_thread(settings: Settings) -> AbstractContextManager[str]:
    """The HTTP app on 127.0.0.1 with an ephemeral port; yields the base URL."""
    return serve_gateway_in_thread(build_gateway(settings))


@contextmanager
def serve_gateway_in_thread(gateway: Gateway, authenticator: Authenticator | None = None) -> Iterator[str]:
    """Serve an already built gateway (so a test keeps a handle on it); yields the base URL."""
    app = build_http_app(gateway, authenticator)
    # The configuration `serve` runs with (its connection deadlines and caps), on an ephemeral port.
    config = server_config(
        app, gateway.settings, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), what="uvicorn start")
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any AssemblyAI key, so the server runs its simulator, and with a data
    directory of the test session's own (a `serve --auth tokens` opens its store there, not in ~)."""
    env = {k: v for k, v in os.environ.items() if k != "ASSEMBLYAI_API_KEY" and not k.startswith("AAI_MCP_")}
    env["AAI_MCP_DATA_DIR"] = scratch_data_dir()
    env.update(extra)
    return env


@functools.cache
def scratch_data_dir() -> str:
    """One per test process, removed when it exits."""
    path = tempfile.mkdtemp(prefix="aai-mcp-test-data-")
    atexit.register(shutil.rmtree, path, True)
    return path


@dataclass
class ServerProcess:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stderr(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def serve_in_process(*args: str, env: dict[str, str] | None = None) -> AbstractContextManager[ServerProcess]:
    """`python -m aai_mcp serve` on a free port (no key in env: its in-process simulator)."""
    return aai_mcp_process("serve", *args, env=env)


@contextmanager
def aai_mcp_process(
    subcommand: str, *args: str, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """`python -m aai_mcp <subcommand>` on a free port, ready once /healthz answers; stderr goes to a
    file so a full pipe never blocks it."""
    port = free_port()
    command = [sys.executable, "-m", "aai_mcp", subcommand, "--port", str(port), *args]
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "stderr.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, env=env or clean_env(), stdout=subprocess.DEVNULL, stderr=log)
        running = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)

        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {running.stderr()}")
            try:
                return httpx.get(f"{running.base_url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_until(healthy, what=f"aai-mcp {subcommand} /healthz")
            yield running
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
