"""Call path vs peers: get_transcript through aai-mcp, a bare SDK tool doing the same GET, and
FastMCP.from_openapi's getTranscript, in both protocol eras, sequential and concurrent.

    python -m bench.call_peers [--calls 400] [--clients 20] [--rounds 3] [--before-python PY]

One standalone simulator serves them all. Each server is served the way its documentation serves
it: `aai-mcp serve`, the SDK's StreamableHTTPSessionManager under plain uvicorn (asyncio, h11: what
`pip install mcp` brings; bench/trivial_server.py --plain),
FastMCP's `mcp.run(transport="http")` (bench/fastmcp_server.py, in .cache/fastmcp-venv). The legacy
era (2025-11-25 initialize) runs every server stateless; the 2026-07-28 era is sessionless anyway.
The client is bench/raw_mcp.py, which does not validate results: the mcp SDK client rejects
FastMCP's. `--before-python` adds a gateway run by another interpreter (e.g. main's venv) as "aai-mcp
before", for the server-CPU-per-call comparison. Targets alternate inside each round so load hits all
alike; the round with the median calls/s is shown, and the ratios are taken within that run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field

import anyio

from bench import common
from bench.catalog_size import SPEC_DIR, ensure_fastmcp_venv
from bench.raw_mcp import LEGACY, MODERN, RawClient
from tests.support import servers
from tests.support.servers import SIM_KEY, ServerProcess

ERAS = {LEGACY: ["--stateless"], MODERN: []}
TARGET_VS_BARE = 1.5
TARGET_VS_FASTMCP = 3.0
# Server CPU ms per call of aai-mcp on main before this round (issue 17): stateless legacy, 2026-07-28.
TODAY_CPU_MS = {LEGACY: 3.65, MODERN: 3.70}


@dataclass
class Target:
    name: str
    server: ServerProcess
    tool: str


@dataclass
class Sample:
    throughput: float
    p50: float
    server_cpu_ms: float
    result_bytes: int


@dataclass
class Run:
    samples: dict[tuple[str, str, int], list[Sample]] = field(default_factory=dict)

    def add(self, era: str, target: str, clients: int, sample: Sample) -> None:
        self.samples.setdefault((era, target, clients), []).append(sample)

    def median(self, era: str, target: str, clients: int) -> Sample | None:
        found = sorted(self.samples.get((era, target, clients), []), key=lambda s: s.throughput)
        return found[len(found) // 2] if found else None


# Calls a server answered with isError, per target: counted, not fatal. FastMCP's httpx pool reuses
# keep-alive connections the simulator has closed and reports "Server disconnected" now and then.
FAILED_CALLS: Counter[str] = Counter()


async def measure(target: Target, era: str, transcript_id: str, clients: int, calls: int) -> Sample:
    args = {"transcript_id": transcript_id}
    url = target.server.base_url + "/mcp"
    latencies: list[float] = []
    async with AsyncExitStack() as stack:
        raw = [await stack.enter_async_context(RawClient(url, era)) for _ in range(clients)]
        first = await raw[0].call(target.tool, args)
        size = len(str(first).encode())

        async def run(client: RawClient, count: int, record: bool) -> None:
            for _ in range(count):
                started = time.perf_counter()
                try:
                    await client.call(target.tool, args)
                except RuntimeError:
                    FAILED_CALLS[target.name] += 1
                    continue
                if record:
                    latencies.append((time.perf_counter() - started) * 1000)

        async with anyio.create_task_group() as tg:
            for client in raw:
                tg.start_soon(run, client, 3, False)
        cpu_before = common.cpu_seconds(target.server.pid)
        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for client in raw:
                tg.start_soon(run, client, max(1, calls // clients), True)
        elapsed = time.perf_counter() - started
        cpu_ms = (common.cpu_seconds(target.server.pid) - cpu_before) * 1000 / len(latencies)
    return Sample(len(latencies) / elapsed, common.percentile(latencies, 50), cpu_ms, size)


def start_targets(stack: ExitStack, sim: ServerProcess, era: str, before: str | None) -> list[Target]:
    flags = ERAS[era]
    targets = [Target("aai-mcp", stack.enter_context(common.gateway(sim.base_url, *flags)), "get_transcript")]
    if before:
        port = servers.free_port()
        command = [before, "-m", "aai_mcp", "serve", "--port", str(port), 
                   *servers.upstream_args(sim.base_url)]  # fmt: skip
        process = servers.server_process([*command, *flags], port, servers.simulator_env())
        targets.append(Target("aai-mcp before", stack.enter_context(process), "get_transcript"))
    upstream = ["--upstream", sim.base_url, "--key", SIM_KEY]
    bare = common.bench_server("trivial_server", "--plain", *flags, *upstream)
    targets.append(Target("bare SDK + same GET", stack.enter_context(bare), "fetch"))
    port = servers.free_port()
    fastmcp = [str(ensure_fastmcp_venv()), str(common.BENCH / "fastmcp_server.py"), "--port", str(port)]
    fastmcp += ["--spec", str(SPEC_DIR / "openapi.json"), *upstream, *flags]
    process = servers.server_process(fastmcp, port, cwd=common.ROOT)
    targets.append(Target("FastMCP from_openapi", stack.enter_context(process), "getTranscript"))
    return targets


def run_era(run: Run, sim: ServerProcess, era: str, transcript_id: str, args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        targets = start_targets(stack, sim, era, args.before_python)
        for _ in range(args.rounds):
            for clients in (1, args.clients):
                calls = args.calls if clients > 1 else max(args.calls // 2, 1)
                for target in targets:
                    sample = anyio.run(
                        measure,
                        target,
                        era,
                        transcript_id,
                        clients,
                        calls,
                        backend_options={"use_uvloop": True},
                    )
                    run.add(era, target.name, clients, sample)


def report(run: Run, clients: int) -> bool:
    rows, all_met = [], True
    for era in ERAS:
        for conc in (1, clients):
            names = ("aai-mcp", "bare SDK + same GET", "FastMCP from_openapi")
            ours, bare, peer = (run.median(era, name, conc) for name in names)
            if ours is None or bare is None or peer is None:
                continue
            vs_bare, vs_peer = ours.throughput / bare.throughput, ours.throughput / peer.throughput
            cpu_met = ours.server_cpu_ms <= TODAY_CPU_MS[era] / 2
            met = vs_bare >= TARGET_VS_BARE and vs_peer >= TARGET_VS_FASTMCP and cpu_met
            all_met = all_met and met
            for name in ("aai-mcp", "aai-mcp before", "bare SDK + same GET", "FastMCP from_openapi"):
                sample = run.median(era, name, conc)
                if sample is not None:
                    ratio = f"{ours.throughput / sample.throughput:.2f}x" if name != "aai-mcp" else ""
                    rows.append([era, conc, name, sample.throughput, sample.p50, sample.server_cpu_ms,
                                 sample.result_bytes, ratio])  # fmt: skip
    headers = ["era", "clients", "server", "calls/s", "p50 ms", "server CPU ms/call", "result bytes",
               "aai-mcp calls/s over it"]  # fmt: skip
    print(common.table(headers, rows))
    print(
        f"\nTargets: aai-mcp >= {TARGET_VS_BARE}x the bare SDK tool and >= {TARGET_VS_FASTMCP}x FastMCP; "
        f"server CPU per call <= half of {TODAY_CPU_MS} ms. Client: bench/raw_mcp.py, which does not "
        "validate results (the mcp SDK client rejects FastMCP's structured content)."
    )
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=400, help="calls per measurement (sequential: half)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per era; the median round is shown")
    parser.add_argument("--eras", default=",".join(ERAS), help="comma-separated, among: " + ",".join(ERAS))
    parser.add_argument("--before-python", help="another interpreter whose aai_mcp is 'aai-mcp before'")
    args = parser.parse_args(argv)
    common.header("Call path vs peers: get_transcript")
    run = Run()
    with common.simulator() as sim:
        transcript_id = common.create_transcripts(sim.base_url, 1)[0]
        for era in args.eras.split(","):
            run_era(run, sim, era, transcript_id, args)
    met = report(run, args.clients)
    if FAILED_CALLS:
        counts = ", ".join(f"{name} {count}" for name, count in FAILED_CALLS.items())
        print(f"\nCalls answered with isError (left out of calls/s): {counts}")
    print(f"\nOverall: {common.verdict(met)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
