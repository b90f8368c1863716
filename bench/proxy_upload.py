"""Team proxy upload: curl streams a 1 GiB file through `/v1/assemblyai/v2/upload` with a team token,
against curl straight to the same simulator.

    python -m bench.proxy_upload [--size-mib 1024] [--rounds 2]

The gateway runs `aai-mcp serve --auth tokens` (the proxy checks a signed token with the proxy scope
on every request); its peak RSS is the process's VmHWM from /proc over its whole life. The simulator
keeps only a count, a hash and the largest chunk it was handed, so every upload's size is checked
where it arrived.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from pathlib import Path

from aai_mcp.access import Scopes
from aai_mcp.access.tokens import mint
from bench import common
from bench.upload import MIB, curl_upload, last_upload, test_file, warm_page_cache
from tests.support import servers
from tests.support.servers import SIM_KEY

TARGET_RSS_MB = 100.0
PROXY = "/v1/assemblyai"
SECRET = "bench-proxy-signing-secret-0123456789abcdef"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/aai-bench"), help="where the file goes")
    args = parser.parse_args(argv)
    common.header(f"Team proxy upload: {args.size_mib} MiB file with curl")
    path = test_file(args.size_mib, args.dir)
    warm_page_cache(path)
    size = path.stat().st_size
    token = mint(SECRET.encode(), name="bench", scopes=Scopes(proxy=True), expires_at=None).token
    times: dict[str, list[float]] = {"direct": [], "proxy": []}
    env = servers.simulator_env(AAI_MCP_TOKEN_SECRETS=SECRET)
    # The store's schema is made first, as an operator's deploy step does: a server that upgrades a
    # fresh store itself keeps Alembic (~10 MB) in memory until it restarts.
    upgrade = [sys.executable, "-m", "aai_mcp", "db", "upgrade"]
    subprocess.run(upgrade, env=env, check=True, capture_output=True)
    with (
        common.bench_server("upload_simulator", "--key", SIM_KEY) as sim,
        servers.server_process(
            common.gateway_command(port := servers.free_port(), sim.base_url, "--auth", "tokens"), port, env
        ) as aai,
    ):
        idle = common.proc_status_kib(aai.pid, "VmRSS") / 1024
        for index in range(args.rounds):
            for who in ("direct", "proxy") if index % 2 == 0 else ("proxy", "direct"):
                if who == "direct":
                    times[who].append(curl_upload(sim.base_url, path))
                else:
                    times[who].append(curl_upload(aai.base_url + PROXY, path, token))
                _check(last_upload(sim.base_url), size)
        peak = common.proc_status_kib(aai.pid, "VmHWM") / 1024
    direct, proxied = common.median(times["direct"]), common.median(times["proxy"])
    ratio = f"{direct / proxied:.0%}"
    rows = [
        ["curl -> simulator (reference)", size / MIB / direct, direct, "", ""],
        ["curl -> aai-mcp proxy -> simulator", size / MIB / proxied, proxied, ratio, peak],
    ]
    print(common.table(["path", "MiB/s", "seconds", "throughput vs direct", "gateway peak RSS MB"], rows))
    print(
        f"\nGateway idle RSS {idle:.1f} MB; peak is its VmHWM over its whole life (start-up included). "
        f"Median of {args.rounds} round(s), alternating order; each upload's size checked at the "
        f"simulator. Client CPU (curl, all rounds): {_children_cpu():.1f} s."
    )
    print(f"Target: gateway peak RSS < {TARGET_RSS_MB:.0f} MB: {common.verdict(peak < TARGET_RSS_MB)}")
    return 0


def _check(upload: dict[str, int], size: int) -> None:
    if upload["size"] != size:
        raise RuntimeError(f"the simulator received {upload['size']} bytes, not {size}")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
