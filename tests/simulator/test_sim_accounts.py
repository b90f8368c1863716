"""Several keys, each one AssemblyAI account: resources stay with the key that made them, each key
can be rate-limited or rejected on its own, and each account's billing is counted apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient, WebSocketDenialResponse

from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import Simulator
from tests.support import ManualClock, wav_bytes
from tests.support.simulator_harness import DELAY, Harness
from tests.support.streaming_ws import connect, pcm, until_close

pytestmark = pytest.mark.anyio
KEY_A = "account-a-key-0123456789abcdef"
KEY_B = "account-b-key-0123456789abcdef"
ADMIN = {"Authorization": KEY_B, "Host": "127.0.0.1"}  # any of the keys opens /_sim/
CHAT = {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "Say hi."}]}


@pytest.fixture
def two_keys(clock: ManualClock) -> Starlette:
    return build_simulator_app(
        SimulatorConfig(api_key=KEY_A, api_keys=(KEY_B,), processing_delay_seconds=DELAY, clock=clock)
    )


@pytest.fixture
def sim2(two_keys: Starlette) -> Simulator:
    simulator: Simulator = two_keys.state.simulator
    return simulator


def client_for(app: Starlette, key: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(
        transport=transport, base_url="https://api.assemblyai.com", headers={"Authorization": key}
    )


@pytest.fixture
async def accounts(
    two_keys: Starlette, clock: ManualClock, sim2: Simulator
) -> AsyncIterator[tuple[Harness, Harness]]:
    async with client_for(two_keys, KEY_A) as a, client_for(two_keys, KEY_B) as b:
        yield Harness(a, clock, sim2), Harness(b, clock, sim2)


async def test_a_key_sees_only_its_own_transcripts(accounts: tuple[Harness, Harness]) -> None:
    a, b = accounts
    made = await a.completed()
    for method in ("GET", "DELETE"):
        other = await b.client.request(method, f"/v2/transcript/{made['id']}")
        assert other.status_code == 404 and other.json() == {"error": "Not found"}, method
    words = await b.client.get(f"/v2/transcript/{made['id']}/sentences")
    assert words.status_code == 404
    assert (await b.client.get("/v2/transcript")).json()["transcripts"] == []
    listed = (await a.client.get("/v2/transcript")).json()["transcripts"]
    assert [item["id"] for item in listed] == [made["id"]]
    assert (await a.client.delete(f"/v2/transcript/{made['id']}")).status_code == 200


async def test_another_accounts_upload_url_cannot_be_transcribed(accounts: tuple[Harness, Harness]) -> None:
    a, b = accounts
    upload_url = await a.upload()
    body = {"audio_url": upload_url, "speech_models": ["universal-3-pro"]}
    refused = await b.client.post("/v2/transcript", json=body)
    assert refused.status_code == 403
    assert refused.json() == {"error": "Cannot access uploaded file"}  # AssemblyAI's words, openapi.yml
    assert (await a.client.post("/v2/transcript", json=body)).status_code == 200


async def test_llm_gateway_and_streaming_tokens_take_every_key(accounts: tuple[Harness, Harness]) -> None:
    a, b = accounts
    made = await a.completed()
    for harness in (a, b):
        assert (await harness.client.post("/v1/chat/completions", json=CHAT)).status_code == 200
        token = await harness.client.get("/v3/token", params={"expires_in_seconds": 60})
        assert token.status_code == 200 and token.json()["token"]
    about = {**CHAT, "transcript_id": made["id"]}
    assert (await a.client.post("/v1/chat/completions", json=about)).status_code == 200
    other = await b.client.post("/v1/chat/completions", json=about)
    assert other.status_code == 404  # the transcript is A's


async def test_a_rate_limited_key_answers_429_for_its_seconds(
    accounts: tuple[Harness, Harness], sim2: Simulator, clock: ManualClock
) -> None:
    a, b = accounts
    sim2.limit_key(KEY_A, 30)
    clock.advance(10)
    limited = await a.client.get("/v2/transcript")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "20"
    assert limited.json() == {"error": "Too Many Requests"}
    gateway = await a.client.post("/v1/chat/completions", json=CHAT)
    assert gateway.status_code == 429 and gateway.headers["x-ratelimit-reset"] == "20"
    assert (await b.client.get("/v2/transcript")).status_code == 200
    clock.advance(20)
    assert (await a.client.get("/v2/transcript")).status_code == 200
    assert sim2.account(KEY_A).refused == {429: 2}


async def test_a_key_limited_until_cleared_gives_the_configured_retry_after(
    accounts: tuple[Harness, Harness], sim2: Simulator, clock: ManualClock
) -> None:
    a, _ = accounts
    sim2.limit_key(KEY_A)
    clock.advance(3600)
    limited = await a.client.get("/v2/transcript")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == str(sim2.config.retry_after_seconds)
    sim2.clear_key(KEY_A)
    assert (await a.client.get("/v2/transcript")).status_code == 200


async def test_a_rejected_key_answers_401_on_every_host_until_cleared(
    accounts: tuple[Harness, Harness], sim2: Simulator
) -> None:
    a, b = accounts
    sim2.reject_key(KEY_B)
    api = await b.client.get("/v2/transcript")
    assert api.status_code == 401
    assert api.json() == {"error": "Authentication error, API token missing/invalid"}
    gateway = await b.client.post("/v1/chat/completions", json=CHAT)
    assert gateway.status_code == 401 and gateway.json()["error"] == "Invalid API key"
    assert (await a.client.get("/v2/transcript")).status_code == 200
    sim2.clear_key(KEY_B)
    assert (await b.client.get("/v2/transcript")).status_code == 200


async def test_billing_is_counted_per_account(
    accounts: tuple[Harness, Harness], sim2: Simulator, clock: ManualClock
) -> None:
    a, b = accounts
    upload = await a.upload(wav_bytes(2.0))
    made = [await a.create(upload), await a.create("https://example.com/call.mp3")]
    clock.advance(DELAY)
    durations = [(await a.get(t["id"]))["audio_duration"] for t in made]
    assert durations[0] == 2 and durations[1] > 0
    await a.create("https://example.com/still-queued.mp3")  # not completed: not billed
    chat = (await b.client.post("/v1/chat/completions", json=CHAT)).json()["usage"]
    billed_a, billed_b = sim2.billing(KEY_A), sim2.billing(KEY_B)
    assert billed_a.transcripts_completed == 2
    assert billed_a.audio_seconds == sum(durations)
    assert billed_a.llm_requests == 0
    assert (billed_b.transcripts_completed, billed_b.audio_seconds) == (0, 0)
    assert billed_b.llm_requests == 1
    assert (billed_b.llm_input_tokens, billed_b.llm_output_tokens) == (
        chat["input_tokens"],
        chat["output_tokens"],
    )


def test_stream_seconds_are_billed_to_the_key_or_the_token_owner(
    two_keys: Starlette, sim2: Simulator, clock: ManualClock
) -> None:
    client = TestClient(two_keys)
    token = client.get("/v3/token?expires_in_seconds=60", headers={"Authorization": KEY_B}).json()["token"]
    for credential, frames in ((KEY_A, 2), (token, 5)):
        with connect(client, key=credential) as ws:
            assert ws.receive_json()["type"] == "Begin"
            for _ in range(frames):
                ws.send_bytes(pcm(500))
            clock.advance(4)
            ws.send_text('{"type": "Terminate"}')
            until_close(ws)
    billed_a, billed_b = sim2.billing(KEY_A), sim2.billing(KEY_B)
    assert (billed_a.stream_sessions, billed_a.stream_audio_seconds, billed_a.stream_session_seconds) == (
        1,
        1.0,
        4.0,
    )
    assert (billed_b.stream_sessions, billed_b.stream_audio_seconds) == (1, 2.5)


def test_a_rate_limited_key_is_refused_the_streaming_upgrade(two_keys: Starlette, sim2: Simulator) -> None:
    sim2.limit_key(KEY_A, 9)
    with pytest.raises(WebSocketDenialResponse) as denied, connect(TestClient(two_keys), key=KEY_A):
        pass
    assert denied.value.status_code == 429 and denied.value.headers["retry-after"] == "9"


async def admin(client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> httpx.Response:
    return await client.request(method, f"/_sim/accounts{path}", json=body, headers=ADMIN)


async def test_admin_routes_control_and_show_each_account_by_index(
    accounts: tuple[Harness, Harness], clock: ManualClock
) -> None:
    a, b = accounts
    made = await a.completed()
    listed = (await admin(a.client, "GET", "")).json()["accounts"]
    assert [(x["index"], x["rejected"], x["rate_limited_for"]) for x in listed] == [
        (0, False, None),
        (1, False, None),
    ]
    assert listed[0]["billing"]["transcripts_completed"] == 1
    assert listed[0]["key"].startswith("sha256:")
    assert (await admin(a.client, "POST", "/1/limit", {"seconds": 5})).json()["rate_limited_for"] == 5
    assert (await b.client.get("/v2/transcript")).headers["retry-after"] == "5"
    assert (await admin(a.client, "POST", "/1/limit")).json()["rate_limited_for"] == "until cleared"
    assert (await admin(a.client, "POST", "/1/reject")).json()["rejected"] is True
    assert (await b.client.get("/v2/transcript")).status_code == 401
    cleared = (await admin(a.client, "POST", "/1/clear")).json()
    assert (cleared["rejected"], cleared["rate_limited_for"], cleared["refused"]) == (
        False,
        None,
        {"429": 1, "401": 1},
    )
    assert (await b.client.get("/v2/transcript")).status_code == 200
    shown = (await admin(a.client, "GET", "/0")).json()
    assert shown["transcripts"] == [made["id"]]
    assert {"method": "GET", "path": f"/v2/transcript/{made['id']}"} in shown["requests"]
    everything = (await admin(a.client, "GET", "")).text + (await admin(a.client, "GET", "/0")).text
    assert KEY_A not in everything and KEY_B not in everything


async def test_admin_routes_refuse_bad_input(accounts: tuple[Harness, Harness]) -> None:
    a, _ = accounts
    assert (await admin(a.client, "POST", "/2/reject")).status_code == 404
    assert (await admin(a.client, "GET", "/x")).status_code == 404
    for body in ({"seconds": -1}, {"seconds": "5"}, {"seconds": True}, [1]):
        assert (await admin(a.client, "POST", "/0/limit", body)).status_code == 400, body
    outsider = {**ADMIN, "Authorization": "not-a-key"}
    assert (await a.client.get("/_sim/accounts", headers=outsider)).status_code == 401


async def test_reset_forgets_every_accounts_resources_and_switches(
    accounts: tuple[Harness, Harness], sim2: Simulator
) -> None:
    a, b = accounts
    await b.completed()
    sim2.reject_key(KEY_A)
    sim2.reset()
    assert (await a.client.get("/v2/transcript")).status_code == 200
    assert (await b.client.get("/v2/transcript")).json()["transcripts"] == []
    assert sim2.billing(KEY_B).transcripts_completed == 0


def test_config_keys_are_distinct_and_in_order() -> None:
    config = SimulatorConfig(api_key=KEY_A, api_keys=(KEY_B, KEY_A))
    assert config.keys == (KEY_A, KEY_B)  # a repeat of api_key adds no account
    for bad in ((KEY_B, KEY_B), ("",)):
        with pytest.raises(ValueError):
            SimulatorConfig(api_key=KEY_A, api_keys=bad)


def test_a_rejected_key_is_refused_the_stream_like_an_unknown_key(
    two_keys: Starlette, sim2: Simulator
) -> None:
    sim2.reject_key(KEY_A)
    with connect(TestClient(two_keys), key=KEY_A) as ws:
        messages, code, _ = until_close(ws)
    assert code == 1008 and messages[0]["error"] == "Unauthorized Connection: Invalid API key or token"
    sim2.clear_key(KEY_A)
    with connect(TestClient(two_keys), key=KEY_A) as ws:
        assert ws.receive_json()["type"] == "Begin"
