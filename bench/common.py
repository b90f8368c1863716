"""What every benchmark shares: servers in their own processes, the MCP client, /proc readings, tables."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CACHE = ROOT / ".cache"
PYTHON = sys.executable
SIM_KEY = "bench-key"
STARTUP_TIMEOUT = 30.0
AUDIO_URL = "https://example.com/support-call.mp3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Any, timeout: float = STARTUP_TIMEOUT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class Proc:
    """A server we started: its base URL, its process, and where its stderr went."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ASSEMBLYAI_API_KEY" and not k.startswith("AAI_MCP_")}
    env.update(extra)
    return env


@contextmanager
def server_process(command: Sequence[str], port: int, env: dict[str, str] | None = None) -> Iterator[Proc]:
    """Start `command`, wait for its /healthz on `port`, stop it (by its own pid) on exit."""
    with tempfile.TemporaryDirectory(prefix="aai-bench-") as tmp:
        log_path = Path(tmp) / "stderr.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                list(command), env=env or clean_env(), stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT
            )
        proc = Proc(f"http://127.0.0.1:{port}", process, log_path)

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:4]} exited: {proc.stderr()[-2000:]}")
            return healthy(proc.url)

        try:
            wait_until(up, what=" ".join(command[:4]))
            yield proc
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


def simulator_command(port: int, delay: float = 0.0) -> list[str]:
    return [
        PYTHON, "-m", "aai_mcp", "simulate", "--port", str(port), "--key", SIM_KEY,
        "--simulator-delay-seconds", str(delay), "--log-level", "WARNING",
    ]  # fmt: skip


def gateway_command(port: int, sim_url: str, *flags: str) -> list[str]:
    """`aai-mcp serve` with every AssemblyAI host pointed at the standalone simulator."""
    hosts = ["--api-base-url", "--llm-gateway-base-url", "--streaming-base-url", "--agents-base-url"]
    pointed = [part for flag in hosts for part in (flag, sim_url)]
    return [PYTHON, "-m", "aai_mcp", "serve", "--port", str(port), *pointed, *flags]


def gateway_env(**extra: str) -> dict[str, str]:
    return clean_env(ASSEMBLYAI_API_KEY=SIM_KEY, **extra)


@contextmanager
def simulator(delay: float = 0.0) -> Iterator[Proc]:
    port = free_port()
    with server_process(simulator_command(port, delay), port) as proc:
        yield proc


@contextmanager
def gateway(sim_url: str, *flags: str, env: dict[str, str] | None = None) -> Iterator[Proc]:
    port = free_port()
    with server_process(gateway_command(port, sim_url, *flags), port, env or gateway_env()) as proc:
        yield proc


def mcp_client(url: str, read_timeout: float = 60.0, mode: str = "legacy") -> Client:
    """The mcp SDK client over Streamable HTTP, with a read timeout long enough for big uploads."""
    http = httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=read_timeout))
    transport: AbstractAsyncContextManager[Any] = _owning(http, url)
    return Client(transport, mode=mode, read_timeout_seconds=read_timeout)  # type: ignore[arg-type]


class _owning(AbstractAsyncContextManager[Any]):
    """streamable_http_client with our own httpx2 client, closed when the transport closes."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self._http = http
        self._inner = streamable_http_client(url, http_client=http)

    async def __aenter__(self) -> Any:
        await self._http.__aenter__()
        return await self._inner.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._inner.__aexit__(*exc)
        finally:
            await self._http.__aexit__(None, None, None)


def create_transcripts(sim_url: str, count: int, audio_url: str = AUDIO_URL) -> list[str]:
    """Create `count` transcripts directly at the simulator (never through the gateway)."""
    headers = {"Authorization": SIM_KEY}
    with httpx.Client(base_url=sim_url, headers=headers, timeout=30) as http:
        ids = []
        for _ in range(count):
            body = {"audio_url": audio_url, "speech_models": ["universal-3-pro", "universal-2"]}
            response = http.post("/v2/transcript", json=body)
            response.raise_for_status()
            ids.append(str(response.json()["id"]))
    return ids


def sim_stats(sim_url: str) -> dict[str, Any]:
    # The admin routes need the simulator key (and a loopback Host, which sim_url has).
    response = httpx.get(f"{sim_url}/_sim/stats", headers={"Authorization": SIM_KEY}, timeout=30)
    stats: dict[str, Any] = response.raise_for_status().json()
    return stats


def proc_status_kib(pid: int, field: str) -> int:
    """A `kB` line of /proc/<pid>/status, e.g. VmHWM (peak RSS) or VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    return f"nproc {os.cpu_count()}, Python {platform.python_version()}, {platform.machine()}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (it pastes into the README as is)."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def header(title: str) -> None:
    print(f"## {title}\n\n{machine()}\n", flush=True)
