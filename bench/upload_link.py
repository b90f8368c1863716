"""Upload link: curl -T sends a 1 GiB file to a one-time link of `aai-mcp serve`, which streams it on to
the simulator's /v2/upload; against curl straight to the same simulator.

    python -m bench.upload_link [--size-mib 1024] [--rounds 2]

Each round asks the gateway for a new link over MCP (create_upload_link), PUTs the file to it with curl
and checks the size where it arrived. Memory: the gateway's peak RSS (VmHWM) after a 1 MiB upload and
after the large ones: if the body were buffered anywhere, the second would grow by the file's size.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import anyio

from bench import common
from bench.upload import MIB, curl_upload, last_upload, test_file, warm_page_cache
from tests.support import servers
from tests.support.servers import SIM_KEY

TARGET_RSS_GROWTH_MB = 20.0


async def new_link(base_url: str) -> str:
    async with common.mcp_client(base_url + "/mcp") as client:
        result = await client.call_tool("create_upload_link", {})
    if result.is_error or not isinstance(result.structured_content, dict):
        raise RuntimeError(f"create_upload_link failed: {result.content}")
    return str(result.structured_content["url"])


def curl_to_link(url: str, path: Path) -> float:
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("curl is missing: apt-get install -y curl")
    started = time.perf_counter()
    subprocess.run(
        [curl, "-sS", "--fail", "-o", "/dev/null", "-H", "Expect:", "-T", str(path), url], check=True
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/aai-bench"), help="where the file goes")
    args = parser.parse_args(argv)
    common.header(f"Upload link: {args.size_mib} MiB file with curl -T")
    path, small = test_file(args.size_mib, args.dir), test_file(1, args.dir)
    warm_page_cache(path)
    size = path.stat().st_size
    port = servers.free_port()
    env = servers.simulator_env()
    # The store's schema is made first, as an operator's deploy step does (bench/proxy_upload.py: a
    # server that upgrades a fresh store keeps Alembic, ~10 MB, in memory).
    subprocess.run(
        [sys.executable, "-m", "aai_mcp", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    flags = ("--public-url", f"http://127.0.0.1:{port}")
    times: dict[str, list[float]] = {"direct": [], "link": []}
    with (
        common.bench_server("upload_simulator", "--key", SIM_KEY) as sim,
        servers.server_process(common.gateway_command(port, sim.base_url, *flags), port, env) as aai,
    ):
        idle = common.proc_status_kib(aai.pid, "VmRSS") / 1024
        curl_to_link(anyio.run(new_link, aai.base_url), small)
        after_small = common.proc_status_kib(aai.pid, "VmHWM") / 1024
        for index in range(args.rounds):
            for who in ("direct", "link") if index % 2 == 0 else ("link", "direct"):
                if who == "direct":
                    times[who].append(curl_upload(sim.base_url, path))
                else:
                    times[who].append(curl_to_link(anyio.run(new_link, aai.base_url), path))
                _check(last_upload(sim.base_url), size)
        peak = common.proc_status_kib(aai.pid, "VmHWM") / 1024
    direct, linked = common.median(times["direct"]), common.median(times["link"])
    rows = [
        ["curl -> simulator (reference)", size / MIB / direct, direct, "", ""],
        ["curl -T -> aai-mcp link -> simulator", size / MIB / linked, linked, f"{direct / linked:.0%}", peak],
    ]
    print(common.table(["path", "MiB/s", "seconds", "throughput vs direct", "gateway peak RSS MB"], rows))
    growth = peak - after_small
    print(
        f"\nGateway idle RSS {idle:.1f} MB; peak RSS after a 1 MiB link upload {after_small:.1f} MB, after "
        f"the {args.size_mib} MiB ones {peak:.1f} MB (+{growth:.1f} MB). Median of {args.rounds} round(s), "
        "alternating order; each upload's size checked at the simulator."
    )
    verdict = common.verdict(growth < TARGET_RSS_GROWTH_MB)
    print(
        f"Target: peak RSS grows < {TARGET_RSS_GROWTH_MB:.0f} MB from 1 MiB to {args.size_mib} MiB: {verdict}"
    )
    return 0


def _check(upload: dict[str, int], size: int) -> None:
    if upload["size"] != size:
        raise RuntimeError(f"the simulator received {upload['size']} bytes, not {size}")


if __name__ == "__main__":
    sys.exit(main())
