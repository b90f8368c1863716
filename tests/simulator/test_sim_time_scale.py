"""A simulator clock faster than the real one (`time_scale`): a ten-minute job watched in seconds, its
status timeline and timestamps in simulated time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest

from aai_mcp.config.settings import Settings
from aai_mcp.gateway import simulator_transport
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from tests.support import ManualClock
from tests.support.simulator_harness import API_KEY, Harness

pytestmark = pytest.mark.anyio

JOB_SECONDS = 600.0
SCALE = 60.0


@pytest.fixture
async def fast(clock: ManualClock) -> AsyncIterator[Harness]:
    config = SimulatorConfig(
        api_key=API_KEY, processing_delay_seconds=JOB_SECONDS, clock=clock, time_scale=SCALE
    )
    app = build_simulator_app(config)
    transport = httpx.ASGITransport(app=app)
    base_url, headers = "https://api.assemblyai.com", {"Authorization": API_KEY}
    async with httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers) as c:
        yield Harness(c, clock, app.state.simulator)


async def test_a_ten_minute_job_runs_through_its_timeline_in_ten_real_seconds(fast: Harness) -> None:
    created = await fast.create()
    assert (await fast.get(created["id"]))["status"] == "queued"
    fast.clock.advance(3.0)  # 180 simulated seconds: still in the first third of the job
    assert (await fast.get(created["id"]))["status"] == "queued"
    fast.clock.advance(0.5)  # 210 simulated seconds
    assert (await fast.get(created["id"]))["status"] == "processing"
    fast.clock.advance(6.4)  # 594 simulated seconds
    assert (await fast.get(created["id"]))["status"] == "processing"
    fast.clock.advance(0.1)  # 600
    assert (await fast.get(created["id"]))["status"] == "completed"


async def test_timestamps_are_in_simulated_time(fast: Harness) -> None:
    created = await fast.create()
    fast.clock.advance(JOB_SECONDS / SCALE)
    listed = (await fast.client.get("/v2/transcript")).json()["transcripts"]
    (item,) = [entry for entry in listed if entry["id"] == created["id"]]
    took = datetime.fromisoformat(item["completed"]) - datetime.fromisoformat(item["created"])
    assert took.total_seconds() == pytest.approx(JOB_SECONDS, abs=1)
    later = await fast.create()
    first, second = (fast.simulator.transcripts.get(made["id"]) for made in (created, later))
    assert first is not None and second is not None
    assert second.created_clock - first.created_clock == pytest.approx(JOB_SECONDS)


@pytest.mark.parametrize("scale", [0.0, -1.0, 20_000.0])
def test_a_scale_out_of_bounds_is_refused(scale: float) -> None:
    with pytest.raises(ValueError, match="time_scale"):
        SimulatorConfig(time_scale=scale)


def test_the_gateway_setting_reaches_its_built_in_simulator() -> None:
    transport = simulator_transport(Settings(simulator_time_scale=60))
    assert isinstance(transport, httpx.ASGITransport)
    assert transport.app.state.simulator.config.time_scale == 60  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="simulator_time_scale"):
        Settings(simulator_time_scale=0)
