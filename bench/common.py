"""What every benchmark shares beyond tests/support (servers, processes): the simulator and gateway it
measures, the MCP client, /proc readings, tables."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support import servers
from tests.support.servers import SIM_KEY, ServerProcess

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CACHE = ROOT / ".cache"
PYTHON = sys.executable
AUDIO_URL = "https://example.com/support-call.mp3"


def bench_command(module: str, port: int, *args: str) -> list[str]:
    return [PYTHON, "-m", f"bench.{module}", "--port", str(port), *args]


def bench_server(module: str, *args: str) -> AbstractContextManager[ServerProcess]:
    """`python -m bench.<module>` (a reference server) on a free port, ready once /healthz answers."""
    port = servers.free_port()
    command = bench_command(module, port, *args)
    return servers.server_process(command, port, cwd=ROOT)


def simulator(delay: float = 0.0) -> AbstractContextManager[ServerProcess]:
    """The standalone simulator every benchmark measures against, finishing jobs after `delay` s."""
    return servers.standalone_simulator("--simulator-delay-seconds", str(delay), "--log-level", "WARNING")


def gateway_command(port: int, sim_url: str, *flags: str) -> list[str]:
    """`aai-mcp serve` with every AssemblyAI host pointed at the standalone simulator."""
    return servers.aai_mcp_command("serve", port, *servers.upstream_args(sim_url), *flags)


def gateway(sim_url: str, *flags: str) -> AbstractContextManager[ServerProcess]:
    port = servers.free_port()
    return servers.server_process(gateway_command(port, sim_url, *flags), port, servers.simulator_env())


def mcp_client(url: str, read_timeout: float = 60.0, mode: str = "legacy") -> Client:
    """The mcp SDK client over Streamable HTTP, with a read timeout long enough for big uploads."""
    http = httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=read_timeout))
    transport: AbstractAsyncContextManager[Any] = _owning(http, url)
    return Client(transport, mode=mode, read_timeout_seconds=read_timeout)


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
