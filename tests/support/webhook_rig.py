"""Webhook capture in process: the gateway's HTTP app (with its webhook route) over a simulator whose
clock the test moves, both through httpx.ASGITransport (no socket), the capture's backoff recorded
instead of slept, and a gate that can hold the simulator's transcript GETs (a capture in progress)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from pydantic import SecretStr

from aai_mcp.config.settings import Settings
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.simulator.account_state import Simulator
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.transports.http import build_http_app
from aai_mcp.upstream.hosts import SIMULATOR_BASE_URL
from aai_mcp.webhooks.background_capture import RetryPolicy, WebhookCapture
from aai_mcp.webhooks.submission import WEBHOOK_PATH
from tests.support import make_settings
from tests.support.archive_runs import HISTORY_KEY, Seeded
from tests.support.archive_sync import SimClock, clocked_simulator

SECRET = "whsec-canary-7f3a91-never-logged"
HEADER = "X-AAI-MCP-Webhook-Secret"
PUBLIC_URL = "http://127.0.0.1:8799"
GATEWAY_URL = "http://127.0.0.1"


def webhook_settings(**overrides: Any) -> Settings:
    """The gateway against the simulator's key, capture on; the upstream client's own GET retries off,
    so every failure reaches the capture's retry."""
    values: dict[str, Any] = {
        "api_key": SecretStr(HISTORY_KEY),
        "api_base_url": SIMULATOR_BASE_URL,
        "public_url": PUBLIC_URL,
        "webhook_auth_header_value": SecretStr(SECRET),
        "get_retries": 0,
    }
    return make_settings(**(values | overrides))


@dataclass
class Pauses:
    """The capture's backoff: recorded, not slept."""

    taken: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.taken.append(seconds)
        await anyio.lowlevel.checkpoint()


class GatedTransport(httpx.AsyncBaseTransport):
    """The simulator, with transcript GETs held while `gate` is closed (`held` counts the waiting)."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.open = anyio.Event()
        self.open.set()
        self.held = 0
        self.someone_held = anyio.Event()

    def close_gate(self) -> None:
        self.open = anyio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.startswith("/v2/transcript/"):
            if not self.open.is_set():
                self.held += 1
                self.someone_held.set()
                await self.open.wait()
        return await self.inner.handle_async_request(request)


@dataclass
class Rig:
    seeded: Seeded
    clock: SimClock
    gateway: Gateway
    app: Any
    archive: ArchiveStore
    capture: WebhookCapture
    upstream_gate: GatedTransport
    pauses: Pauses

    @property
    def simulator(self) -> Simulator:
        return self.seeded.simulator

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=GATEWAY_URL)

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        async with self.client() as client:
            sent = {HEADER: SECRET} if headers is None else headers
            return await client.post(WEBHOOK_PATH, json=body, headers=sent)

    async def until_stored(self, count: int) -> None:
        """Wait (event-driven: each capture's end) until the archive holds `count` transcripts."""
        with anyio.fail_after(60):
            while True:
                settled = self.capture.settled
                if self.archive.count() >= count:
                    return
                await settled.wait()

    async def submit(self, count: int = 1, **params: Any) -> list[str]:
        """Transcripts created straight at the simulator (not through the gateway)."""
        ids = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.seeded.app)) as client:
            for n in range(count):
                body = {"audio_url": f"https://calls.example.com/{n:05d}.wav", "speech_models": ["universal"]}
                answer = await client.post(
                    f"{SIMULATOR_BASE_URL}/v2/transcript",
                    json=body | params,
                    headers={"Authorization": HISTORY_KEY},
                )
                ids.append(answer.json()["id"])
        return ids


@asynccontextmanager
async def webhook_rig(
    store: SqlStore, retry: RetryPolicy | None = None, archive: ArchiveStore | None = None, **overrides: Any
) -> AsyncIterator[Rig]:
    seeded, clock = clocked_simulator(count=0)
    gate = GatedTransport(seeded.app)
    gateway = build_gateway(webhook_settings(**overrides), transport=gate)
    archive = archive or ArchiveStore(store.engine)
    gateway.use_store(store, archive)
    pauses = Pauses()
    capture = WebhookCapture(gateway.upstream, archive, retry=retry or RetryPolicy(), sleep=pauses.sleep)
    if gateway.webhook_capture is not None:  # capture configured: this one, whose pauses are recorded
        gateway.webhook_capture = capture
    app = build_http_app(gateway)
    try:
        async with gateway.running():
            yield Rig(seeded, clock, gateway, app, archive, capture, gate, pauses)
    finally:
        await gateway.aclose()
