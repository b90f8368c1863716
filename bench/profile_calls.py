"""Profile the call-overhead hot path: py-spy samples an aai-mcp (or trivial) server under load.

    python -m bench.profile_calls [--target aai-mcp|trivial] [--flags=--json-response] [--seconds 15]

The load is the call-overhead benchmark's (mcp SDK client, get_transcript on a completed transcript,
legacy handshake unless --client-mode auto). py-spy runs with --gil (only samples holding the GIL:
Python CPU, not waits) and --nonblocking; the summary lists the top functions by own and by
inclusive share of samples.
"""

from __future__ import annotations

import argparse
import collections
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import anyio

from bench import common
from bench.call_overhead import measure_mcp

FRAME = re.compile(r"(?P<fn>.*) \((?P<file>.*?)(?::\d+)?\)$")
# Frames every sample shares (the event loop, uvicorn's entry), left out of the inclusive table.
PLUMBING = (
    "asyncio/",
    "runpy",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "uvicorn/main.py",
    "aai_mcp/cli/main.py",
    "aai_mcp/cli/serving.py",
    "aai_mcp/__main__.py",
    "bench/trivial_server.py",
)


def frame_name(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    file = re.sub(r".*site-packages/", "", match["file"])
    file = re.sub(r".*/src/", "", file)
    file = re.sub(r".*/lib/python3\.\d+/", "", file)
    return f"{match['fn']} ({file})"


def summarize(raw: str, top: int) -> str:
    """Top functions by own samples and by inclusive samples, from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame_name(f) for f in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for name in set(frames):
            inclusive[name] += int(count)
    if not total:
        return "no samples"
    shared = [n for n in inclusive if any(p in n for p in PLUMBING)]
    for name in shared:
        del inclusive[name]
    lines = [f"{total} samples (GIL held)", "", "| own % | function |", "|---:|---|"]
    lines += [f"| {n / total:.1%} | `{name}` |" for name, n in own.most_common(top)]
    lines += ["", "| inclusive % | function |", "|---:|---|"]
    lines += [f"| {n / total:.1%} | `{name}` |" for name, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)


def load(url: str, mode: str, tool: str, args: dict[str, str], clients: int, stop: threading.Event) -> None:
    async def run() -> None:
        while not stop.is_set():
            await measure_mcp(url, mode, tool, args, clients, 20, {})

    anyio.run(run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", choices=["aai-mcp", "trivial"], default="aai-mcp")
    parser.add_argument("--flags", default="--json-response", help="server flags, e.g. '--stateless'")
    parser.add_argument("--client-mode", default="legacy", help="legacy (initialize handshake) or auto")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--raw", type=Path, help="also keep py-spy's raw output here")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    flags = shlex.split(args.flags)
    common.header(f"Profile: {args.target} {' '.join(flags)}, {args.clients} client(s)")
    with common.simulator() as sim:
        transcript_id = common.create_transcripts(sim.base_url, 1)[0]
        if args.target == "trivial":
            server = common.bench_server("trivial_server", *flags)
            tool, tool_args = "constant", {}
        else:
            server = common.gateway(sim.base_url, *flags)
            tool, tool_args = "get_transcript", {"transcript_id": transcript_id}
        with server as proc, tempfile.TemporaryDirectory() as tmp:
            stop = threading.Event()
            url = proc.base_url + "/mcp"
            worker = threading.Thread(
                target=load, args=(url, args.client_mode, tool, tool_args, args.clients, stop)
            )
            worker.start()
            raw = Path(tmp) / "profile.txt"
            try:
                record = [py_spy, "record", "--pid", str(proc.pid), "--duration", str(int(args.seconds)),
                          "--rate", str(args.rate), "--gil", "--nonblocking", "--format", "raw"]  # fmt: skip
                quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
                subprocess.run([*record, "--output", str(raw)], check=True, **quiet)  # type: ignore[call-overload]
            finally:
                stop.set()
                worker.join()
            text = raw.read_text()
            if args.raw:
                args.raw.write_text(text)
    print(summarize(text, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
