"""The team proxy over the built-in simulator with a store, for quota and usage tests (a helper)."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from aai_mcp.access import Scopes, mint
from aai_mcp.config.settings import SIMULATOR_KEY
from aai_mcp.gateway import Gateway
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from aai_mcp.simulator.key_accounts import Billing
from aai_mcp.state.store import GatewayStore
from tests.support import wav_bytes
from tests.support.proxy_harness import PROXY, SECRET, proxy_gateway

TEAM = "team"
TEAM_KEY_ENV = "QUOTA_TEAM_KEY"


def team_auth(team: str) -> dict[str, str]:
    scopes = Scopes(proxy=True)
    return {
        "authorization": mint(
            SECRET.encode(), name="quota", scopes=scopes, expires_at=None, account=team
        ).token
    }


AUTH = team_auth(TEAM)


def simulator_app() -> Starlette:
    """The built-in simulator, jobs completing at once; `billing(app)` says what it billed."""
    config = SimulatorConfig(api_key=SIMULATOR_KEY, processing_delay_seconds=0.0, record_requests=False)
    return build_simulator_app(config)


def billing(app: Starlette) -> Billing:
    simulator: Simulator = app.state.simulator
    return simulator.billing(SIMULATOR_KEY)


def simulated_gateway(
    store: GatewayStore | None,
    quotas: str = "",
    team: str = TEAM,
    simulator: Starlette | None = None,
    **settings: Any,
) -> Gateway:
    """The proxy's gateway on the in-process simulator (`simulator`, else one of its own), `team`'s
    key the simulator's (set TEAM_KEY_ENV to SIMULATOR_KEY), quotas as configured."""
    gateway = proxy_gateway(
        None if simulator is None else httpx.ASGITransport(app=simulator),
        api_key=None,
        simulator_delay_seconds=0.0,
        accounts=[f"{team}=env:{TEAM_KEY_ENV}"],
        team_quotas=quotas,
        **settings,
    )
    if store is not None:
        gateway.use_store(store)
    return gateway


async def upload(client: httpx.AsyncClient, seconds: float) -> str:
    answer = await client.post(f"{PROXY}/v2/upload", content=wav_bytes(seconds), headers=AUTH)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["upload_url"])


async def create(client: httpx.AsyncClient, audio_url: str) -> httpx.Response:
    body = {"audio_url": audio_url, "speech_models": ["universal-3-pro", "universal-2"]}
    return await client.post(f"{PROXY}/v2/transcript", json=body, headers=AUTH)


async def read(client: httpx.AsyncClient, transcript_id: str) -> dict[str, Any]:
    answer = await client.get(f"{PROXY}/v2/transcript/{transcript_id}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


async def transcribe(client: httpx.AsyncClient, seconds: float) -> dict[str, Any]:
    """A transcript of `seconds` of audio, read through the proxy until it is completed."""
    created = await create(client, await upload(client, seconds))
    assert created.status_code == 200, created.text
    document = await read(client, created.json()["id"])
    assert document["status"] == "completed", document
    return document


async def ask(client: httpx.AsyncClient, question: str = "What was said?") -> httpx.Response:
    body = {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": question}]}
    return await client.post(f"{PROXY}/llm-gateway/v1/chat/completions", json=body, headers=AUTH)


__all__ = ["SIMULATOR_KEY"]
