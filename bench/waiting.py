"""Waiting: 200 concurrent wait_for_transcript on 200 transcripts, and 200 on one transcript.

    python -m bench.waiting [--waits 200] [--delay 6] [--clients 20]

A standalone simulator finishes every transcript `--delay` seconds after it was created (created
directly at the simulator, just before the waits start). aai-mcp serves with its default polling
(1 s, growing x1.5 to 5 s, jittered). Figures: upstream GETs per wait (counted by the simulator,
`GET /_sim/stats`), the server's CPU seconds (utime+stime from /proc, sessions' set-up included)
and the latency from the job's completion to the call's return.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass

import anyio
import anyio.to_thread

from bench import common
from tests.support.servers import ServerProcess

ROUTE = "GET /v2/transcript/{transcript_id}"


@dataclass
class Outcome:
    scenario: str
    waits: int
    transcripts: int
    upstream_gets: int
    cpu_seconds: float
    client_cpu_seconds: float
    after_completion_ms: list[float]


async def run_waits(
    url: str, sim_url: str, transcripts: int, waits: int, clients: int, delay: float
) -> list[float]:
    """Open the sessions, then create the transcripts and wait for them at once; ms after completion."""
    lateness: list[float] = []
    async with AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(common.mcp_client(url, read_timeout=300)) for _ in range(clients)
        ]
        done_at: dict[str, float] = {}
        for transcript_id in await anyio.to_thread.run_sync(common.create_transcripts, sim_url, transcripts):
            done_at[transcript_id] = time.monotonic() + delay  # created at the simulator just before now
        ids = list(done_at)

        async def wait(index: int) -> None:
            transcript_id = ids[index % len(ids)]
            args = {"transcript_id": transcript_id, "timeout_seconds": 120}
            result = await sessions[index % clients].call_tool("wait_for_transcript", args)
            returned = time.monotonic()
            content = result.structured_content or {}
            if result.is_error or content.get("status") != "completed":
                raise RuntimeError(f"wait_for_transcript did not see completed: {content}")
            lateness.append((returned - done_at[transcript_id]) * 1000)

        async with anyio.create_task_group() as tg:
            for index in range(waits):
                tg.start_soon(wait, index)
    return lateness


def scenario(
    name: str, aai: ServerProcess, sim: ServerProcess, transcripts: int, args: argparse.Namespace
) -> Outcome:
    gets_before = common.sim_stats(sim.base_url)["requests"].get(ROUTE, 0)
    cpu_before, client_before = common.cpu_seconds(aai.pid), time.process_time()
    lateness = anyio.run(
        run_waits, aai.base_url + "/mcp", sim.base_url, transcripts, args.waits, args.clients, args.delay
    )
    cpu, client = common.cpu_seconds(aai.pid) - cpu_before, time.process_time() - client_before
    gets = common.sim_stats(sim.base_url)["requests"].get(ROUTE, 0) - gets_before
    return Outcome(name, args.waits, transcripts, gets, cpu, client, lateness)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--waits", type=int, default=200)
    parser.add_argument(
        "--delay", type=float, default=6.0, help="simulator seconds from created to completed"
    )
    parser.add_argument("--clients", type=int, default=20, help="MCP sessions the waits are spread over")
    args = parser.parse_args(argv)
    common.header(f"Waiting: {args.waits} concurrent wait_for_transcript, jobs done after {args.delay:g} s")
    with common.simulator(delay=args.delay) as sim, common.gateway(sim.base_url) as aai:
        outcomes = [
            scenario(f"{args.waits} waits on {args.waits} transcripts", aai, sim, args.waits, args),
            scenario(f"{args.waits} waits on 1 transcript", aai, sim, 1, args),
        ]
    rows = []
    for o in outcomes:
        late = o.after_completion_ms
        rows.append([o.scenario, o.upstream_gets, o.upstream_gets / o.waits, o.upstream_gets / o.transcripts,
                     o.cpu_seconds, o.cpu_seconds * 1000 / o.waits, o.client_cpu_seconds, min(late),
                     common.percentile(late, 50), common.percentile(late, 99), max(late)])  # fmt: skip
    headers = ["scenario", "upstream GETs", "GETs per wait", "GETs per transcript", "server CPU s",
               "server CPU ms per wait", "client CPU s", "return after completion: min ms", "p50 ms",
               "p99 ms", "max ms"]  # fmt: skip
    print(common.table(headers, rows))
    print(
        "\nReference points: a client polling get_transcript every second itself would make about "
        f"{args.delay:g}+ GETs per wait and return up to 1000 ms after completion; waits on one transcript "
        "share one poll loop, so their GETs per wait fall with the number of waiters. The latency after "
        "completion is the poll interval at that moment (backoff 1 s x1.5 up to 5 s, +-20 % jitter: the min "
        "column) plus the MCP work of delivering all results at once on two shared cores (the spread: "
        "server and client CPU columns)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
