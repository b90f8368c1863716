"""Waiting with and without webhooks: completion-to-return latency and upstream polls per wait.

    python -m bench.webhook_wait [--waits 20] [--delay 4]

A standalone simulator (which sends webhooks, as AssemblyAI does) finishes every transcript `--delay`
seconds after it was created. Two gateways serve it: one plain (polling 1 s, x1.5 up to 5 s), one with
webhook capture (`--public-url` and the webhook secret: create_transcript sets its webhook, waiters
poll once, then every 30 s as a safety net, and wake on the webhook). Each scenario creates `--waits`
transcripts through the gateway's create_transcript and waits for each with wait_for_transcript, all
at once. Figures: upstream GETs of the transcripts (the simulator's counts), of which the capture's
(one per transcript with webhooks), the polls per wait, and the return after the job's completion.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import AbstractContextManager, AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx

from bench import common
from tests.support import servers
from tests.support.servers import ServerProcess

ROUTE = "GET /v2/transcript/{transcript_id}"
SECRET = "bench-webhook-secret"


@dataclass
class Outcome:
    scenario: str
    waits: int
    gets: int
    captures: int
    after_completion_ms: list[float]

    @property
    def polls_per_wait(self) -> float:
        return (self.gets - self.captures) / self.waits


async def run_waits(url: str, waits: int) -> dict[str, float]:
    """Sessions opened first; then each creates a transcript and waits for it. The wall time each wait
    returned, by transcript id."""
    returned: dict[str, float] = {}

    async def one(session: Any) -> None:
        created = await session.call_tool("create_transcript", {"audio_url": common.AUDIO_URL})
        transcript_id = (created.structured_content or {})["id"]
        args = {"transcript_id": transcript_id, "timeout_seconds": 120}
        result = await session.call_tool("wait_for_transcript", args)
        returned[transcript_id] = time.time()
        if result.is_error or (result.structured_content or {}).get("status") != "completed":
            raise RuntimeError(f"wait_for_transcript did not see completed: {result.structured_content}")

    async with AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(common.mcp_client(url, read_timeout=300)) for _ in range(waits)
        ]
        async with anyio.create_task_group() as group:
            for session in sessions:
                group.start_soon(one, session)
    return returned


def completed_at(sim_url: str) -> dict[str, float]:
    """When the simulator completed each transcript (its list's `completed`, UTC without a zone)."""
    with httpx.Client(base_url=sim_url, headers={"Authorization": servers.SIM_KEY}, timeout=30) as http:
        items = http.get("/v2/transcript", params={"limit": "200"}).raise_for_status().json()["transcripts"]
    return {
        item["id"]: datetime.fromisoformat(item["completed"]).replace(tzinfo=UTC).timestamp()
        for item in items
        if item.get("completed")
    }


def scenario(
    name: str, aai: ServerProcess, sim: ServerProcess, args: argparse.Namespace, captures: int
) -> Outcome:
    before = common.sim_stats(sim.base_url)["requests"].get(ROUTE, 0)
    returned = anyio.run(run_waits, aai.base_url + "/mcp", args.waits)
    if captures:
        time.sleep(1.0)  # the captures run after each webhook's answer: let the last ones land
    gets = common.sim_stats(sim.base_url)["requests"].get(ROUTE, 0) - before
    done = completed_at(sim.base_url)
    lateness = [(at - done[transcript_id]) * 1000 for transcript_id, at in returned.items()]
    return Outcome(name, args.waits, gets, captures, lateness)


def webhook_gateway(sim_url: str, data_dir: str) -> AbstractContextManager[ServerProcess]:
    port = servers.free_port()
    flags = ("--public-url", f"http://127.0.0.1:{port}")
    env = servers.simulator_env(AAI_MCP_WEBHOOK_AUTH_HEADER_VALUE=SECRET, AAI_MCP_DATA_DIR=data_dir)
    return servers.server_process(common.gateway_command(port, sim_url, *flags), port, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--waits", type=int, default=20)
    parser.add_argument(
        "--delay", type=float, default=4.0, help="simulator seconds from created to completed"
    )
    args = parser.parse_args(argv)
    common.header(f"Waiting with and without webhooks: {args.waits} waits, jobs done after {args.delay:g} s")
    with common.simulator(delay=args.delay) as sim, tempfile.TemporaryDirectory() as data_dir:
        with common.gateway(sim.base_url) as plain:
            polled = scenario("polling only", plain, sim, args, captures=0)
        with webhook_gateway(sim.base_url, data_dir) as hooked:
            woken = scenario("webhook (polling as safety net)", hooked, sim, args, captures=args.waits)
    rows = []
    for o in (polled, woken):
        late = o.after_completion_ms
        rows.append([o.scenario, o.gets, o.captures, o.polls_per_wait, min(late), common.percentile(late, 50),
                     common.percentile(late, 99), max(late)])  # fmt: skip
    headers = ["scenario", "upstream GETs", "of which captures", "polls per wait",
               "return after completion: min ms", "p50 ms", "p99 ms", "max ms"]  # fmt: skip
    print(common.table(headers, rows))
    print(
        "\nWith polling only, a wait returns up to one poll interval (1 s growing to 5 s) after the job "
        "completes and polls about once per interval; with the webhook, it polls once at the start and "
        "once when the webhook wakes it, and returns as soon as the webhook arrives (the simulator looks "
        "for finished jobs every 50 ms)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
