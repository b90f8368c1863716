"""Fixtures for the simulator tests: a fake clock, an in-process client and a live server."""

from __future__ import annotations

import io
import socket
import threading
import time
import wave
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.state import Simulator

API_KEY = "sim-key"  # tests spell it out literally; conftest is not importable
DELAY = 3.0


class FakeClock:
    """A clock tests move by hand, so lifecycles advance without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wav_bytes(seconds: float = 0.5, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x00\x01" * int(seconds * rate))
    return buffer.getvalue()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(clock: FakeClock) -> SimulatorConfig:
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


class Harness:
    """The in-process client plus the shortcuts most tests need."""

    def __init__(self, client: httpx.AsyncClient, clock: FakeClock, simulator: Simulator) -> None:
        self.client = client
        self.clock = clock
        self.simulator = simulator

    async def upload(self, data: bytes | None = None) -> str:
        response = await self.client.post(
            "/v2/upload",
            content=wav_bytes() if data is None else data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 200, response.text
        url: str = response.json()["upload_url"]
        return url

    async def create(self, audio_url: str | None = None, **params: Any) -> dict[str, Any]:
        body = {
            "audio_url": audio_url or await self.upload(),
            "speech_models": ["universal-3-pro", "universal-2"],
            **params,
        }
        response = await self.client.post("/v2/transcript", json=body)
        assert response.status_code == 200, response.text
        created: dict[str, Any] = response.json()
        return created

    async def get(self, transcript_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v2/transcript/{transcript_id}")
        assert response.status_code == 200, response.text
        transcript: dict[str, Any] = response.json()
        return transcript

    async def completed(self, **params: Any) -> dict[str, Any]:
        """A transcript of an uploaded WAV, taken all the way to `completed`."""
        created = await self.create(**params)
        self.clock.advance(DELAY)
        transcript = await self.get(created["id"])
        assert transcript["status"] == "completed", transcript
        return transcript


@pytest.fixture
def sim(client: httpx.AsyncClient, clock: FakeClock, simulator: Simulator) -> Harness:
    return Harness(client, clock, simulator)


class LiveServer:
    """The simulator on a real loopback socket, served by uvicorn in a thread."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.app = build_simulator_app(config)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="critical", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def simulator(self) -> Simulator:
        sim: Simulator = self.app.state.simulator
        return sim

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.005)
        assert httpx.get(f"{self.base_url}/healthz").json() == {"status": "ok"}

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def live_server() -> Iterator[LiveServer]:
    """Real clock and a short delay: the official SDK sleeps between its polls."""
    server = LiveServer(SimulatorConfig(api_key=API_KEY, processing_delay_seconds=0.2))
    server.start()
    try:
        yield server
    finally:
        server.stop()
