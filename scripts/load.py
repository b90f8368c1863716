"""Load and soak `aai-mcp serve` (its in-process simulator, no key) over Streamable HTTP.

    python scripts/load.py [--sessions 50] [--calls 1000] [--mode stateful|stateless|both]
    python scripts/load.py --soak [MINUTES]        # default 10 minutes, stateful unless --mode

Not a timed test. Starts the server as a subprocess per mode (`--simulator-delay-seconds 0`,
plus `--stateless` in that mode), creates a few transcripts, then runs N concurrent sessions
(each its own mcp SDK `Client`) of M calls: mostly get_transcript, some list_transcripts,
search_words and get_paragraphs. Prints calls, errors (an isError result or an exception; any
is a failure), throughput and p50/p99 latency per mode.

--soak runs that load for MINUTES, with sessions closing and reopening every M calls (100 by
default, so session set-up and tear-down are soaked too); it samples the server's RSS (VmRSS)
every ~15 s and fails when RSS grows more than 10 % after warm-up (the first 2 minutes, or the
first 20 % of a shorter run). Client and server share this machine's cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
from mcp.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import serve_in_process  # noqa: E402

AUDIO_URLS = ("https://example.com/support-call.mp3", "https://example.com/interview.wav")
TRANSCRIPTS = 3
SEARCH_WORDS = (["refund"], ["account", "card"], ["thanks"])
WARM_UP_SECONDS = 120.0
WARM_UP_FRACTION = 0.2
MAX_GROWTH = 0.10
SAMPLE_SECONDS = 15.0
SOAK_SESSION_CALLS = 100
SHOWN_ERRORS = 5


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    by_tool: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    sessions: int = 0

    @property
    def calls(self) -> int:
        return len(self.latencies)


def pick_call(rng: random.Random, ids: Sequence[str]) -> tuple[str, dict[str, Any]]:
    roll, transcript_id = rng.random(), rng.choice(ids)
    if roll < 0.7:
        return "get_transcript", {"transcript_id": transcript_id}
    if roll < 0.8:
        return "list_transcripts", {"limit": 5}
    if roll < 0.9:
        return "search_words", {"transcript_id": transcript_id, "words": rng.choice(SEARCH_WORDS)}
    return "get_paragraphs", {"transcript_id": transcript_id}


@dataclass
class Load:
    url: str
    protocol: str
    calls: int
    ids: Sequence[str]
    stats: Stats = field(default_factory=Stats)
    deadline: float | None = None  # a soak: sessions reopen until then

    def over(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


async def one_call(load: Load, client: Client, rng: random.Random) -> None:
    tool, arguments = pick_call(rng, load.ids)
    started = time.perf_counter()
    try:
        result = await client.call_tool(tool, arguments)
        problem = f"{tool}: isError {result.content}"[:300] if result.is_error else None
    except Exception as exc:  # every failure is counted and shown, never fatal to the run
        problem = f"{tool}: {type(exc).__name__}: {exc}"[:300]
    load.stats.latencies.append(time.perf_counter() - started)
    load.stats.by_tool[tool] += 1
    if problem:
        load.stats.errors.append(problem)


async def session(load: Load, rng: random.Random) -> None:
    """One client session of `calls` calls (fewer when a soak's deadline passes)."""
    try:
        async with Client(load.url, mode=load.protocol) as client:
            load.stats.sessions += 1
            for _ in range(load.calls):
                if load.over():
                    break
                await one_call(load, client, rng)
    except Exception as exc:  # a session that cannot open or close cleanly is an error too
        load.stats.errors.append(f"session: {type(exc).__name__}: {exc}"[:300])


async def worker(load: Load, seed: int) -> None:
    rng = random.Random(seed)
    await session(load, rng)
    while load.deadline is not None and not load.over():
        await session(load, rng)


async def create_transcripts(url: str, protocol: str) -> list[str]:
    ids = []
    async with Client(url, mode=protocol) as client:
        for index in range(TRANSCRIPTS):
            args = {"audio_url": AUDIO_URLS[index % 2], "speaker_labels": True, "timeout_seconds": 30}
            done = await client.call_tool("transcribe", args)
            if done.is_error or not done.structured_content:
                raise RuntimeError(f"could not create a transcript: {done.content}")
            ids.append(str(done.structured_content["id"]))
    return ids


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def sample_rss(pid: int, stats: Stats, every: float, rows: list[tuple[float, int, int]]) -> None:
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        rows.append((elapsed, rss_kib(pid), stats.calls))
        previous = rows[-2] if len(rows) > 1 else (0.0, 0, 0)
        rate = (stats.calls - previous[2]) / max(elapsed - previous[0], 1e-9)
        print(
            f"  {elapsed:8.1f} s  {rows[-1][1] / 1024:9.1f} MiB  {stats.calls:9d} calls  {rate:7.0f} calls/s",
            flush=True,
        )
        await anyio.sleep(every)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def print_figures(mode: str, stats: Stats, seconds: float) -> None:
    rate = stats.calls / seconds if seconds else 0.0
    print(f"mode {mode}: {stats.calls} calls in {stats.sessions} sessions, {seconds:.1f} s wall")
    p50, p99 = (percentile(stats.latencies, q) * 1000 for q in (0.5, 0.99))
    mean = statistics.fmean(stats.latencies or [0]) * 1000
    print(
        f"  errors {len(stats.errors)} | throughput {rate:.0f} calls/s | "
        f"p50 {p50:.1f} ms | p99 {p99:.1f} ms | mean {mean:.1f} ms"
    )
    print("  calls: " + ", ".join(f"{tool} {n}" for tool, n in stats.by_tool.most_common()))
    for error in stats.errors[:SHOWN_ERRORS]:
        print(f"  ERROR {error}")


def growth(rows: list[tuple[float, int, int]], seconds: float) -> tuple[float, int, int]:
    """(growth fraction, RSS after warm-up, RSS at the end), in KiB."""
    warm_up = min(WARM_UP_SECONDS, WARM_UP_FRACTION * seconds)
    after = next((rss for elapsed, rss, _ in rows if elapsed >= warm_up), rows[-1][1])
    end = rows[-1][1]
    return (end - after) / after, after, end


async def run_mode(args: argparse.Namespace, mode: str) -> bool:
    flags = ["--simulator-delay-seconds", "0", *(["--stateless"] if mode == "stateless" else [])]
    flags += ["--json-response"] if args.json_response else []
    with serve_in_process(*flags) as server:
        url, pid = f"{server.base_url}/mcp", server.process.pid
        load = Load(url, args.protocol, args.calls, await create_transcripts(url, args.protocol))
        rows: list[tuple[float, int, int]] = []
        started = time.monotonic()
        if args.soak:
            load.deadline = started + args.soak * 60
            print(f"mode {mode}: soak {args.soak:g} min; RSS of the server (pid {pid}):")
            print(f"  {'time':>10}  {'RSS':>13}  {'calls':>15}  {'rate':>14}")
        async with anyio.create_task_group() as group:
            if args.soak:
                group.start_soon(sample_rss, pid, load.stats, min(SAMPLE_SECONDS, args.soak * 6), rows)
            async with anyio.create_task_group() as workers:
                for index in range(args.sessions):
                    workers.start_soon(worker, load, args.seed + index)
            group.cancel_scope.cancel()
        seconds = time.monotonic() - started
        if rows:
            rows.append((seconds, rss_kib(pid), load.stats.calls))
            print(f"  {seconds:8.1f} s  {rows[-1][1] / 1024:9.1f} MiB  {load.stats.calls:9d} calls  (end)")
        print_figures(mode, load.stats, seconds)
        ok = not load.stats.errors and load.stats.calls > 0
        if rows:
            grew, after, end = growth(rows, seconds)
            print(
                f"  RSS after warm-up {after / 1024:.1f} MiB, at the end {end / 1024:.1f} MiB: "
                f"growth {grew * 100:+.1f} % (limit {args.max_growth:g} %)"
            )
            ok = ok and grew * 100 <= args.max_growth
        if server.process.poll() is not None:
            print(f"  ERROR the server exited: {server.stderr()[-2000:]}")
            ok = False
        return ok


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=50, help="Concurrent sessions (default 50).")
    parser.add_argument(
        "--calls",
        type=int,
        help="Calls per session (default 1000; 100 in a soak, so sessions keep reopening).",
    )
    parser.add_argument(
        "--mode",
        choices=("stateful", "stateless", "both"),
        help="Server mode(s); default both, or stateful with --soak.",
    )
    parser.add_argument(
        "--soak",
        type=float,
        nargs="?",
        const=10.0,
        metavar="MINUTES",
        help="Run the load for MINUTES (default 10; fractions allowed) and watch the server's RSS.",
    )
    parser.add_argument(
        "--protocol",
        default="legacy",
        help="Client protocol: legacy (initialize handshake, sessions; default) or a modern version.",
    )
    parser.add_argument("--json-response", action="store_true", help="Serve JSON instead of SSE responses.")
    parser.add_argument(
        "--max-growth", type=float, default=MAX_GROWTH * 100, help="Soak: RSS growth allowed, percent (10)."
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed for the call mix.")
    args = parser.parse_args(argv)
    args.mode = args.mode or ("stateful" if args.soak else "both")
    args.calls = args.calls or (SOAK_SESSION_CALLS if args.soak else 1000)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"machine: nproc {cores}, Python {platform.python_version()}, {platform.platform()}, "
        f"mcp {version('mcp')}, load average {os.getloadavg()[0]:.1f}; "
        f"{args.sessions} sessions x {args.calls} calls, protocol {args.protocol}"
    )
    modes = ("stateful", "stateless") if args.mode == "both" else (args.mode,)
    started = time.monotonic()
    results = [anyio.run(run_mode, args, mode) for mode in modes]
    print(f"total wall time {time.monotonic() - started:.1f} s")
    print("OK" if all(results) else "FAILED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
