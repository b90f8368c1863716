"""Cold start: process start to /healthz ready and to the first tools/list answer, vs a bare SDK server.

    python -m bench.cold_start [--runs 5]

Each run starts `aai-mcp serve` (with an API key, so no in-process simulator) and the bare mcp SDK
trivial server alternately, polls /healthz every 10 ms, then lists tools with the mcp SDK client
(initialize handshake included). Median of the runs.

Both start from compiled bytecode, as an installed package does (pip compiles it at install): the
package's own modules are compiled once before the runs, since an editable checkout under
PYTHONDONTWRITEBYTECODE=1 would otherwise compile all ~200 of them from source on every start (about a
fifth of aai-mcp's start-up), while the bare server's imports come compiled from site-packages.

Quiet machine, 2026-11-30: aai-mcp 2.30-2.37 s to /healthz vs the bare server's 1.62-1.66 s (1.42x,
1.43x; 1.53x before aiohttp was imported at first use). Timed in one process, the
import of the CLI and the served app is 1.76-2.00 s (the bare server's imports 1.02-1.45 s, nearly
all `mcp`), the catalog 39-57 ms, the gateway 52-81 ms, the app 3-4 ms. Earlier, on a heavily loaded
machine (the bare server at 11.6 s): 1.79x; the CPU each spends importing and building its app was
main 3.79 s, lean 2.89 s, bare SDK 1.94 s.
"""

from __future__ import annotations

import argparse
import compileall
import subprocess
import sys
import time

import anyio

from bench import common
from tests.support import servers

# Nothing is called upstream while listing tools; the URL only has to be well-formed.
UNUSED_UPSTREAM = "http://127.0.0.1:9"


async def list_tools(url: str) -> int:
    async with common.mcp_client(url) as client:
        return len((await client.list_tools()).tools)


def one_start(command: list[str], port: int, env: dict[str, str]) -> tuple[float, float, int]:
    """Seconds from spawn to /healthz 200 and to the first tools/list answer, and the tool count."""
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=common.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{command[:4]} exited with {process.returncode}")
        return servers.answers_healthz(url)

    try:
        # Polled every 10 ms: the figure is only as fine as the poll.
        servers.wait_until(ready, what=f"{command[:4]} /healthz", interval=0.01)
        healthy = time.perf_counter() - started
        tools = anyio.run(list_tools, f"{url}/mcp")
        listed = time.perf_counter() - started
    finally:
        servers.stop(process)
    return healthy, listed, tools


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    common.header("Cold start")
    compileall.compile_dir(common.ROOT / "src", quiet=1)
    results: dict[str, list[tuple[float, float, int]]] = {
        "aai-mcp serve": [],
        "bare SDK server (reference)": [],
    }
    for _ in range(args.runs):
        port = servers.free_port()
        aai = common.gateway_command(port, UNUSED_UPSTREAM)
        results["aai-mcp serve"].append(one_start(aai, port, servers.simulator_env()))
        port = servers.free_port()
        bare = common.bench_command("trivial_server", port)
        results["bare SDK server (reference)"].append(one_start(bare, port, servers.clean_env()))
    rows = []
    reference = results["bare SDK server (reference)"]
    ref_health = common.median([r[0] for r in reference])
    ref_list = common.median([r[1] for r in reference])
    for name, runs in results.items():
        health, listed = common.median([r[0] for r in runs]), common.median([r[1] for r in runs])
        rows.append([name, runs[0][2], health * 1000, listed * 1000, f"{health / ref_health:.2f}x",
                     f"{listed / ref_list:.2f}x", f"{min(r[1] for r in runs) * 1000:.0f}-"
                     f"{max(r[1] for r in runs) * 1000:.0f}"])  # fmt: skip
    headers = ["server", "tools", "to /healthz ms", "to first tools/list ms", "healthz vs bare",
               "tools/list vs bare", "tools/list range ms"]  # fmt: skip
    print(common.table(headers, rows))
    print(
        f"\nMedian of {args.runs} runs, alternating; tools/list by the mcp SDK client, initialize included."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
