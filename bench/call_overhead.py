"""Call overhead: get_transcript through aai-mcp vs a trivial tool (ceiling) vs a direct GET (floor).

    python -m bench.call_overhead [--calls 400] [--clients 20] [--rounds 3]

Every server runs in its own process on loopback: one standalone simulator (`aai-mcp simulate`),
and per mode one `aai-mcp serve` pointed at it plus one bare-SDK trivial server served the same way.
The MCP targets are driven by the same mcp SDK client; the floor is httpx GET /v2/transcript/{id}
on the simulator. Measurements alternate between targets inside each round, so noise hits all alike.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from bench import common
from tests.support.servers import SIM_KEY, ServerProcess

# mode name -> (server flags, client mode). "legacy" is the initialize handshake (2025-11-25 era),
# where stateful/stateless/JSON differ; "auto" lands on the sessionless 2026-07-28 era.
MODES: dict[str, tuple[list[str], str]] = {
    "stateful+SSE": ([], "legacy"),
    "stateless": (["--stateless"], "legacy"),
    "json-response": (["--json-response"], "legacy"),
    "2026-07-28": ([], "auto"),
}
TARGET_RATIO = 0.80
TARGET_OVERHEAD_MS = 2.0
TARGETS = ("direct", "trivial", "trivial+GET", "aai-mcp")
LABELS = {
    "direct": "direct GET (floor)",
    "trivial": "trivial tool (ceiling)",
    "trivial+GET": "bare SDK tool + same GET",
    "aai-mcp": "aai-mcp get_transcript",
}
CallFn = Callable[[], Awaitable[None]]


@dataclass
class Sample:
    throughput: float
    latencies_ms: list[float]
    cpu_ms: dict[str, float]
    """CPU milliseconds per call of each process involved: the server(s) and this client."""

    @property
    def p50(self) -> float:
        return common.percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return common.percentile(self.latencies_ms, 99)


async def drive(callers: list[CallFn], calls: int, warmup: int, pids: dict[str, int]) -> Sample:
    """`calls` calls spread over the callers (each sequential), after `warmup` calls each.

    `pids` are the server processes whose CPU time (utime+stime) is charged to these calls.
    """
    per_caller = max(1, calls // len(callers))
    latencies: list[float] = []

    async def run(call: CallFn, count: int, record: bool) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await call()
            if record:
                latencies.append((time.perf_counter() - started) * 1000)

    async with anyio.create_task_group() as tg:
        for call in callers:
            tg.start_soon(run, call, warmup, False)
    cpu_before = {name: common.cpu_seconds(pid) for name, pid in pids.items()}
    client_before = time.process_time()
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for call in callers:
            tg.start_soon(run, call, per_caller, True)
    elapsed = time.perf_counter() - started
    count = len(latencies)
    cpu = {name: (common.cpu_seconds(pid) - cpu_before[name]) * 1000 / count for name, pid in pids.items()}
    cpu["client"] = (time.process_time() - client_before) * 1000 / count
    return Sample(count / elapsed, latencies, cpu)


async def measure_mcp(
    url: str, mode: str, tool: str, args: dict[str, Any], clients: int, calls: int, pids: dict[str, int]
) -> Sample:
    async with AsyncExitStack() as stack:
        connected = [
            await stack.enter_async_context(common.mcp_client(url, mode=mode)) for _ in range(clients)
        ]
        first = await connected[0].call_tool(tool, args)
        if first.is_error:
            raise RuntimeError(f"{tool} failed: {first.content}")

        def caller(client: Any) -> CallFn:
            async def call() -> None:
                result = await client.call_tool(tool, args)
                assert not result.is_error

            return call

        return await drive([caller(c) for c in connected], calls, 3, pids)


async def measure_direct(sim: ServerProcess, transcript_id: str, clients: int, calls: int) -> Sample:
    async with AsyncExitStack() as stack:
        https = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=sim.base_url, headers={"Authorization": SIM_KEY})
            )
            for _ in range(clients)
        ]

        def caller(http: httpx.AsyncClient) -> CallFn:
            async def call() -> None:
                response = await http.get(f"/v2/transcript/{transcript_id}")
                response.raise_for_status()
                response.json()

            return call

        return await drive([caller(h) for h in https], calls, 3, {"sim": sim.pid})


Results = dict[tuple[str, int], "Sample"]


def med(samples: list[Sample]) -> Sample:
    """The round with the median throughput (its latencies come along)."""
    ordered = sorted(samples, key=lambda s: s.throughput)
    return ordered[len(ordered) // 2]


def run_mode(name: str, sim: ServerProcess, transcript_id: str, args: argparse.Namespace) -> Results:
    flags, client_mode = MODES[name]
    samples: dict[tuple[str, int], list[Sample]] = {}
    with (
        common.gateway(sim.base_url, *flags) as aai,
        common.bench_server(
            "trivial_server", *flags, "--upstream", sim.base_url, "--key", SIM_KEY
        ) as trivial,
    ):
        for _ in range(args.rounds):
            for clients in (1, args.clients):
                calls = args.calls if clients > 1 else max(args.calls // 2, 1)
                for target in TARGETS:
                    setup = Setup(aai, trivial, sim, client_mode, transcript_id)
                    sample = anyio.run(_measure, target, setup, clients, calls)
                    samples.setdefault((target, clients), []).append(sample)
    return {key: med(values) for key, values in samples.items()}


@dataclass
class Setup:
    aai: ServerProcess
    trivial: ServerProcess
    sim: ServerProcess
    client_mode: str
    transcript_id: str


async def _measure(target: str, setup: Setup, clients: int, calls: int) -> Sample:
    if target == "direct":
        return await measure_direct(setup.sim, setup.transcript_id, clients, calls)
    mode = setup.client_mode
    if target == "trivial":
        pids = {"server": setup.trivial.pid}
        return await measure_mcp(setup.trivial.base_url + "/mcp", mode, "constant", {}, clients, calls, pids)
    pids = {"server": setup.aai.pid, "sim": setup.sim.pid}
    args = {"transcript_id": setup.transcript_id}
    if target == "trivial+GET":
        pids["server"] = setup.trivial.pid
        return await measure_mcp(setup.trivial.base_url + "/mcp", mode, "fetch", args, clients, calls, pids)
    return await measure_mcp(setup.aai.base_url + "/mcp", mode, "get_transcript", args, clients, calls, pids)


def _cpu(sample: Sample) -> str:
    return " + ".join(f"{name} {ms:.2f}" for name, ms in sample.cpu_ms.items())


def report(results: dict[str, Results], clients: int) -> bool:
    rows = []
    all_met = True
    for mode, by_target in results.items():
        for conc in (1, clients):
            direct, trivial, fetch, aai = (by_target[(t, conc)] for t in TARGETS)
            ratio = aai.throughput / trivial.throughput
            over_direct = aai.p50 - direct.p50
            met = ratio >= TARGET_RATIO and (conc > 1 or over_direct <= TARGET_OVERHEAD_MS)
            all_met = all_met and met
            for target, sample in zip(TARGETS, (direct, trivial, fetch, aai), strict=True):
                vs_ceiling = f"{sample.throughput / trivial.throughput:.0%}" if target != "direct" else ""
                over = f"{sample.p50 - direct.p50:+.2f}" if target != "direct" else ""
                figures = [sample.throughput, sample.p50, sample.p99, vs_ceiling, over, _cpu(sample)]
                rows.append([mode, conc, LABELS[target], *figures])
    headers = ["mode", "clients", "target", "calls/s", "p50 ms", "p99 ms", "calls/s vs ceiling",
               "p50 over floor ms", "CPU ms/call"]  # fmt: skip
    print(common.table(headers, rows))
    print(
        f"\nTargets: aai-mcp >= {TARGET_RATIO:.0%} of the trivial tool's calls/s; p50 over the direct GET "
        f"<= {TARGET_OVERHEAD_MS} ms (sequential). 'bare SDK tool + same GET' is a bare-SDK tool that "
        "does only the upstream GET and JSON decode any gateway must do: the stack's own ceiling for this "
        "call. CPU ms/call: utime+stime per call of each process (server, simulator, this client)."
    )
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=400, help="calls per measurement (sequential: half)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode; the median round is shown")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, among: " + ",".join(MODES))
    args = parser.parse_args(argv)
    common.header("Call overhead: get_transcript")
    with common.simulator() as sim:
        transcript_id = common.create_transcripts(sim.base_url, 1)[0]
        results = {mode: run_mode(mode, sim, transcript_id, args) for mode in args.modes.split(",")}
    met = report(results, args.clients)
    print(f"\nOverall: {common.verdict(met)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
