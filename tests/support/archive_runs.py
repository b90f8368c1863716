"""A backfill against the in-process simulator seeded with history (httpx.ASGITransport: no socket),
with a fake time for its pacer so rate-limit waits are seen, not spent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from aai_mcp.archive.backfill import Backfill, BackfillPlan, Progress, Report
from aai_mcp.archive.pacing import Pacer
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import Simulator
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.upstream.client import Upstream
from aai_mcp.upstream.hosts import SIMULATOR_BASE_URL
from tests.support import make_settings

HISTORY_KEY = "history-sim-key"


@dataclass
class FakeTime:
    """A monotonic clock that moves only by the pacer's sleeps, which it records."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Seeded:
    """The simulator's app (to send to) and its state (to look at)."""

    app: Any

    @property
    def simulator(self) -> Simulator:
        simulator: Simulator = self.app.state.simulator
        return simulator


def seeded_simulator(count: int = 300, days: float = 120, seed: int = 11) -> Seeded:
    config = SimulatorConfig(api_key=HISTORY_KEY, history_count=count, history_days=days, seed=seed)
    return Seeded(build_simulator_app(config))


def available(simulator: Simulator, status: str = "completed") -> set[str]:
    """The ids AssemblyAI would still list with `status` (not expired)."""
    return {
        r.transcript_id
        for r in simulator.transcripts.newest_first()
        if not simulator.expired(r) and simulator.status_of(r) == status
    }


def fetches(simulator: Simulator) -> dict[str, int]:
    """GET /v2/transcript/{id} requests per transcript id (refused ones too)."""
    counts: dict[str, int] = {}
    for request in simulator.requests:
        if request.method == "GET" and request.template == "/v2/transcript/{transcript_id}":
            transcript_id = request.path.rsplit("/", 1)[-1]
            counts[transcript_id] = counts.get(transcript_id, 0) + 1
    return counts


async def backfill(
    seeded: Seeded,
    archive: ArchiveStore,
    plan: BackfillPlan,
    time: FakeTime | None = None,
    report: Report | None = None,
) -> tuple[Progress, Pacer]:
    time = time or FakeTime()
    pacer = Pacer(1000.0, sleep=time.sleep, clock=time.clock)
    settings = make_settings(api_key=SecretStr(HISTORY_KEY), api_base_url=SIMULATOR_BASE_URL)
    async with Upstream(settings, transport=httpx.ASGITransport(app=seeded.app)) as upstream:
        run = Backfill(upstream, archive, plan, pacer, report or (lambda _p, _page: None))
        return await run.run(), pacer
