"""Fixtures for the simulator tests: a manual clock, an in-process client and a live server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import Simulator
from tests.support import ManualClock
from tests.support.servers import serve_app_in_thread
from tests.support.simulator_harness import API_KEY, DELAY, Harness, LiveServer


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1000.0)


@pytest.fixture
def config(clock: ManualClock) -> SimulatorConfig:
    return SimulatorConfig(api_key=API_KEY, processing_delay_seconds=DELAY, clock=clock)


@pytest.fixture
def app(config: SimulatorConfig) -> Starlette:
    return build_simulator_app(config)


@pytest.fixture
def simulator(app: Starlette) -> Simulator:
    sim: Simulator = app.state.simulator
    return sim


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="https://api.assemblyai.com", headers={"Authorization": API_KEY}
    ) as c:
        yield c


@pytest.fixture
def sim(client: httpx.AsyncClient, clock: ManualClock, simulator: Simulator) -> Harness:
    return Harness(client, clock, simulator)


@pytest.fixture
def live_server() -> Iterator[LiveServer]:
    """Real clock and a short delay: the official SDK sleeps between its polls."""
    app = build_simulator_app(SimulatorConfig(api_key=API_KEY, processing_delay_seconds=0.2))
    with serve_app_in_thread(app) as base_url:
        assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
        yield LiveServer(base_url, app.state.simulator)
