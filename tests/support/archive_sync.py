"""Syncs against the in-process simulator (no socket) whose clock the test moves: transcripts are
submitted now, stay queued/processing for the processing delay, and finish when the clock passes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from aai_mcp.archive.pacing import Pacer
from aai_mcp.archive.sync import Sync, SyncPlan
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.state.store_leases import StoreLeases
from aai_mcp.upstream.client import Upstream
from aai_mcp.upstream.hosts import SIMULATOR_BASE_URL
from tests.support import make_settings
from tests.support.archive_runs import HISTORY_KEY, FakeTime, Seeded

PROCESSING_SECONDS = 60.0


@dataclass
class SimClock:
    """The simulator's clock: moves only when the test says."""

    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def clocked_simulator(count: int = 120, days: float = 60) -> tuple[Seeded, SimClock]:
    clock = SimClock()
    config = SimulatorConfig(
        api_key=HISTORY_KEY,
        history_count=count,
        history_days=days,
        seed=7,
        clock=clock,
        processing_delay_seconds=PROCESSING_SECONDS,
    )
    return Seeded(build_simulator_app(config)), clock


@asynccontextmanager
async def upstream_of(seeded: Seeded) -> AsyncIterator[Upstream]:
    settings = make_settings(api_key=SecretStr(HISTORY_KEY), api_base_url=SIMULATOR_BASE_URL)
    async with Upstream(settings, transport=httpx.ASGITransport(app=seeded.app)) as upstream:
        yield upstream


async def submit(seeded: Seeded, count: int) -> list[str]:
    """`count` new transcripts, queued now; their ids oldest first."""
    ids = []
    async with upstream_of(seeded) as upstream:
        for n in range(count):
            body = {"audio_url": f"https://calls.example.com/new/{n:05d}.wav", "speech_models": ["universal"]}
            answer = await upstream.request("api", "POST", "/v2/transcript", json_body=body)
            ids.append(answer.json()["id"])
    return ids


def sync_of(
    upstream: Upstream,
    archive: ArchiveStore,
    time: FakeTime | None = None,
    page_size: int = 100,
    concurrency: int = 4,
) -> Sync:
    time = time or FakeTime()
    pacer = Pacer(1000.0, sleep=time.sleep, clock=time.clock)
    plan = SyncPlan(page_size=page_size, concurrency=concurrency)
    return Sync(upstream, archive, StoreLeases(archive.engine), plan, pacer)
