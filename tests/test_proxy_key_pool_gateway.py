"""The key pool on the LLM Gateway, against the two-key simulator in memory. AssemblyAI's gateway
answers 429 with `X-RateLimit-Reset` (seconds until its window resets, with `X-RateLimit-Remaining:
0`) and no `Retry-After` (reference ENDPOINTS.md, "Rate limits"), so that is how long the key is out."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from aai_mcp.access import Scopes, mint
from aai_mcp.gateway import Gateway
from aai_mcp.state.store_sql import SqlStore
from tests.support.proxy_harness import PROXY, SECRET, proxy_client, proxy_gateway
from tests.support.simulated_accounts import SimulatedAccounts
from tests.support.two_accounts import KEY_A, KEY_B

pytestmark = pytest.mark.anyio
TOKEN = mint(SECRET.encode(), name="pool", scopes=Scopes(proxy=True), expires_at=None, account="team").token
AUTH = {"authorization": TOKEN}
CHAT = {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "Say hi."}]}
CHAT_PATH = f"{PROXY}/llm-gateway/v1/chat/completions"


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedAccounts]:
    monkeypatch.setenv("POOL_KEY_A", KEY_A)
    monkeypatch.setenv("POOL_KEY_B", KEY_B)
    yield SimulatedAccounts.start()


def pool_gateway(upstream: SimulatedAccounts, store: SqlStore) -> Gateway:
    gateway = proxy_gateway(upstream.transport(), accounts=["team=env:POOL_KEY_A", "team=env:POOL_KEY_B"])
    gateway.use_store(store)
    return gateway


async def test_a_gateway_429_moves_the_call_to_the_other_key(
    pooled: SimulatedAccounts, store: SqlStore
) -> None:
    pooled.simulator.limit_key(KEY_A, 5)
    async with proxy_client(pool_gateway(pooled, store)) as client:
        answer = await client.post(CHAT_PATH, json=CHAT, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert pooled.keys_called() == [KEY_A, KEY_B]
    assert (pooled.simulator.billing(KEY_A).llm_requests, pooled.simulator.billing(KEY_B).llm_requests) == (
        0,
        1,
    )


async def test_a_gateway_429_cools_its_key_until_the_window_resets(
    pooled: SimulatedAccounts, store: SqlStore
) -> None:
    pooled.simulator.limit_key(KEY_A, 5)
    pooled.simulator.limit_key(KEY_B, 8)
    async with proxy_client(pool_gateway(pooled, store)) as client:
        answer = await client.post(CHAT_PATH, json=CHAT, headers=AUTH)
    assert answer.status_code == 503 and answer.json()["code"] == "no_usable_key"
    states = store.key_states()
    cooling = {name: state.cooling_until for name, state in states.items()}
    now = time.time()
    # Fails today: the pool reads only Retry-After, so a gateway 429 cools its key for the default
    # 30 s and the caller is told to come back in 30 s instead of 5.
    assert cooling["team/POOL_KEY_A"] is not None and cooling["team/POOL_KEY_A"] - now <= 5
    assert 1 <= int(answer.headers["retry-after"]) <= 5


async def test_a_gateway_call_about_a_transcript_goes_with_the_key_that_made_it(
    pooled: SimulatedAccounts, store: SqlStore
) -> None:
    pooled.simulator.limit_key(KEY_A, 5)  # so the transcript is made with B
    async with proxy_client(pool_gateway(pooled, store)) as client:
        body = {"audio_url": "https://example.com/a.mp3", "speech_models": ["universal-2"]}
        made = (await client.post(f"{PROXY}/v2/transcript", json=body, headers=AUTH)).json()["id"]
        pooled.simulator.clear_key(KEY_A)
        store.enable_key("team/POOL_KEY_A")  # A free and first by tie-break: only affinity picks B
        pooled.clock.advance(3.0)  # the transcript completes
        answer = await client.post(CHAT_PATH, json={**CHAT, "transcript_id": made}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert pooled.keys_called()[-1] == KEY_B
    assert pooled.simulator.billing(KEY_B).llm_requests == 1
