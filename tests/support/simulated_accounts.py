"""The built-in simulator with two keys, two AssemblyAI accounts, as the key pool's upstream in memory
(httpx.ASGITransport: no socket, so unit tests): a helper, not tests. It answers as AssemblyAI does
(another account's transcript 404, its upload URL 403) and each key can be rate-limited or rejected."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.applications import Starlette

from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from tests.support import ManualClock
from tests.support.two_accounts import KEY_A, KEY_B

SPEECH_MODELS = ["universal-3-pro", "universal-2"]


@dataclass
class SimulatedAccounts:
    app: Starlette
    clock: ManualClock

    @classmethod
    def start(cls) -> SimulatedAccounts:
        clock = ManualClock(start=1000.0)
        config = SimulatorConfig(api_key=KEY_A, api_keys=(KEY_B,), processing_delay_seconds=3.0, clock=clock)
        return cls(build_simulator_app(config), clock)

    @property
    def simulator(self) -> Simulator:
        simulator: Simulator = self.app.state.simulator
        return simulator

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.app)

    async def create_directly(self, key: str, audio_url: str = "https://example.com/a.mp3") -> str:
        """A transcript made with `key` without the pool (a direct SDK call): the pool never saw it."""
        async with httpx.AsyncClient(
            transport=self.transport(), base_url="https://api.assemblyai.com"
        ) as client:
            body = {"audio_url": audio_url, "speech_models": SPEECH_MODELS}
            answer = await client.post("/v2/transcript", json=body, headers={"authorization": key})
        transcript_id: str = answer.raise_for_status().json()["id"]
        return transcript_id

    def keys_called(self) -> list[str]:
        """The key of each request the simulator got, in order ("?" for a key it does not know)."""
        keys = self.simulator.config.keys
        return [keys[r.account] if r.account is not None else "?" for r in self.simulator.requests]

    def owner(self, transcript_id: str) -> str | None:
        """The key whose account holds the transcript."""
        held = (a for a in self.simulator.accounts.values() if a.transcripts.get(transcript_id) is not None)
        return next((account.key for account in held), None)
