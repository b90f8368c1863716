"""The simulator under test: an in-process httpx client with the shortcuts most simulator tests need,
and the simulator on a real loopback socket (fixtures in tests/simulator/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from aai_mcp.simulator.account_state import Simulator
from tests.support import ManualClock, wav_bytes

API_KEY = "sim-key"
DELAY = 3.0
"""Seconds from created to completed for the in-process simulator, on its manual clock."""


class Harness:
    """The in-process client plus the shortcuts most tests need."""

    def __init__(self, client: httpx.AsyncClient, clock: ManualClock, simulator: Simulator) -> None:
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


@dataclass
class LiveServer:
    """The simulator on a real loopback socket, served by uvicorn in a thread."""

    base_url: str
    simulator: Simulator
