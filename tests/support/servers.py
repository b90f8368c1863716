"""Real servers on loopback for end-to-end tests and benchmarks: uvicorn in a thread, or a command
(the CLI, a bench server) in a subprocess."""

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
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from aai_mcp.access.principal import Authenticator
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.simulator.host_rules import PREFIXED_HOSTS
from aai_mcp.transports.connections import server_config
from aai_mcp.transports.http import build_http_app

if TYPE_CHECKING:  # importing it loads cryptography, which only TLS tests need
    from tests.support.tls import LoopbackCertificate

STARTUP_TIMEOUT = 90.0
"""Generous: a deadline, not a wait (readiness is polled), and a start on a 2-core machine running
several suites at once took over 30 s."""
UPSTREAM_HOSTS = ("api", "llm-gateway", "streaming", "agents", "sync", "dictation", "tts", "token")
SIM_KEY = "standalone-sim-key"
"""The key a standalone simulator accepts, and the gateways pointed at it send."""


def wait_until(
    condition: Any, timeout: float = STARTUP_TIMEOUT, what: str = "condition", interval: float = 0.02
) -> None:
    """Poll a readiness condition (a socket coming up) with a deadline; not a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


def serve_in_thread(settings: Settings) -> AbstractContextManager[str]:
    """The HTTP app on 127.0.0.1 with an ephemeral port; yields the base URL."""
    return serve_gateway_in_thread(build_gateway(settings))


def serve_gateway_in_thread(
    gateway: Gateway, authenticator: Authenticator | None = None, tls: LoopbackCertificate | None = None
) -> AbstractContextManager[str]:
    """Serve an already built gateway (so a test keeps a handle on it); yields the base URL, https://
    with `tls` (for clients that speak only wss:// or https://)."""
    return uvicorn_in_thread(gateway_server_config(build_http_app(gateway, authenticator), gateway, tls))


def gateway_server_config(
    app: ASGIApp, gateway: Gateway, tls: LoopbackCertificate | None = None
) -> uvicorn.Config:
    """The configuration `serve` runs with (its connection deadlines and caps), on an ephemeral port."""
    options: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "log_level": "warning", "lifespan": "on"}
    if tls is not None:
        options |= {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
    return server_config(app, gateway.settings, **options)


def serve_app_in_thread(app: ASGIApp) -> AbstractContextManager[str]:
    """Any ASGI app (no lifespan) on 127.0.0.1 with an ephemeral port; yields the base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
    return uvicorn_in_thread(config)


@contextmanager
def uvicorn_in_thread(config: uvicorn.Config) -> Iterator[str]:
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), what="uvicorn start")
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"{'https' if config.is_ssl else 'http'}://127.0.0.1:{port}"
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


def answers_healthz(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@functools.cache
def scratch_data_dir() -> str:
    """One per test process, removed when it exits."""
    path = tempfile.mkdtemp(prefix="aai-mcp-test-data-")
    atexit.register(shutil.rmtree, path, True)
    return path


@dataclass
class ServerProcess:
    """A server we started: its base URL, its process, and where its stderr went."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def serve_in_process(*args: str, env: dict[str, str] | None = None) -> AbstractContextManager[ServerProcess]:
    """`python -m aai_mcp serve` on a free port (no key in env: its in-process simulator)."""
    return aai_mcp_process("serve", *args, env=env)


def aai_mcp_command(subcommand: str, port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "aai_mcp", subcommand, "--port", str(port), *args]


def aai_mcp_process(
    subcommand: str, *args: str, env: dict[str, str] | None = None
) -> AbstractContextManager[ServerProcess]:
    """`python -m aai_mcp <subcommand>` on a free port, ready once /healthz answers."""
    port = free_port()
    return server_process(aai_mcp_command(subcommand, port, *args), port, env)


def standalone_simulator(*args: str) -> AbstractContextManager[ServerProcess]:
    """`aai-mcp simulate` on a free port, accepting SIM_KEY: an AssemblyAI that several gateway
    processes (or a benchmark's references) share."""
    return aai_mcp_process("simulate", "--key", SIM_KEY, *args, env=clean_env())


def simulator_env(**extra: str) -> dict[str, str]:
    """The environment of a gateway whose upstream is the standalone simulator."""
    return clean_env(ASSEMBLYAI_API_KEY=SIM_KEY, **extra)


def simulator_origin(host: str, simulator_url: str) -> str:
    """Where the simulator on one address serves `host` (flag spelling, e.g. "llm-gateway"). Sync STT
    and Dictation share their paths (`/v1/transcribe/live`), so on one address the simulator serves
    them under a prefix (simulator/host_rules.py PREFIXED_HOSTS); the gateway's base URL carries it."""
    prefixes = {named.value: prefix for prefix, named in PREFIXED_HOSTS.items()}
    return simulator_url + prefixes.get(host.replace("-", "_"), "")


def upstream_args(simulator_url: str) -> list[str]:
    """Flags that point every AssemblyAI host of a gateway at the standalone simulator."""
    flags = {f"--{host}-base-url": simulator_origin(host, simulator_url) for host in UPSTREAM_HOSTS}
    return [arg for flag, url in flags.items() for arg in (flag, url)]


@contextmanager
def server_process(
    command: Sequence[str], port: int, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[ServerProcess]:
    """Start `command`, ready once /healthz on `port` answers; stopped (by its own pid) on exit.
    stderr goes to a file so a full pipe never blocks the server."""
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "stderr.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                list(command), env=env or clean_env(), stdout=subprocess.DEVNULL, stderr=log, cwd=cwd
            )
        running = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)

        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(command[:4])} exited: {running.stderr()[-4000:]}")
            return answers_healthz(running.base_url)

        try:
            wait_until(healthy, what=f"{' '.join(command[:4])} /healthz")
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
