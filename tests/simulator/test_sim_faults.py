"""Injected faults (queued and random), the request log and the admin endpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from aai_mcp.simulator import FAULT_KINDS, SimulatedConnectionReset, SimulatorConfig, build_simulator_app

if TYPE_CHECKING:
    from tests.support import ManualClock
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

CHAT = {"model": "gemini-2.5-flash-lite", "prompt": "hi"}
# The /_sim/ routes want the key (the client sends it) and a loopback Host (the client's is upstream's).
ADMIN = {"Host": "127.0.0.1:8765"}


async def queue(sim: Harness, **body: Any) -> None:
    response = await sim.client.post("/_sim/faults", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text


async def test_429_on_v2_has_integer_retry_after(sim: Harness) -> None:
    await queue(sim, fault="429", count=1, path_prefix="/v2/transcript")
    response = await sim.client.get("/v2/transcript")
    assert response.status_code == 429
    assert response.json() == {"error": "Too Many Requests"}
    assert response.headers["retry-after"] == "2"
    assert "x-ratelimit-limit" not in response.headers
    assert (await sim.client.get("/v2/transcript")).status_code == 200


async def test_429_date_carries_an_http_date(clock: ManualClock) -> None:
    started = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    app = build_simulator_app(SimulatorConfig(clock=clock, started_at=started, retry_after_seconds=7))
    app.state.simulator.queue_fault("429-date")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        clock.advance(10)
        response = await client.get("/v2/transcript", headers={"Authorization": "sim-key"})
    assert response.status_code == 429
    assert response.headers["retry-after"].endswith(" GMT")
    assert parsedate_to_datetime(response.headers["retry-after"]) == started + timedelta(seconds=17)


async def test_429_on_gateway_has_rate_limit_headers(sim: Harness) -> None:
    await queue(sim, fault="429", path_prefix="/v1/chat")
    response = await sim.client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 429
    # The 2026-10 SDK's business envelope (newer than the spec's nested one).
    body = response.json()
    assert (body["message"], body["code"], body["metadata"]) == (
        "Too Many Requests",
        "rate_limited",
        {"errors": []},
    )
    assert body["request_id"]
    headers = response.headers
    assert headers["x-ratelimit-limit"] == "30" and headers["x-ratelimit-remaining"] == "0"
    assert headers["x-ratelimit-reset"] == "2"
    assert headers["x-ratelimit-model"] == "gemini-2.5-flash-lite"
    assert headers["x-ratelimit-service"] == "LLM Gateway"


async def test_429_on_understanding_names_the_service(sim: Harness) -> None:
    sim.simulator.queue_fault("429", path_prefix="/v1/understanding")
    response = await sim.client.post("/v1/understanding", json={})
    assert response.status_code == 429
    assert response.headers["x-ratelimit-service"] == "Speech Understanding"


async def test_429_on_token_hosts(sim: Harness) -> None:
    sim.simulator.queue_fault("429", count=2, path_prefix="/v")
    for path in ("/v3/token", "/v1/token"):
        response = await sim.client.get(path, params={"expires_in_seconds": 5})
        assert response.status_code == 429 and response.json() == {"error": "Too Many Requests"}


async def test_500_uses_each_host_shape(sim: Harness) -> None:
    sim.simulator.queue_fault("500", count=2)
    api = await sim.client.get("/v2/transcript")
    gateway = await sim.client.post("/v1/chat/completions", json=CHAT)
    assert api.status_code == 500 and api.json() == {"error": "Internal Server Error"}
    assert gateway.status_code == 500 and gateway.json()["code"] == "internal_error"


async def test_502_is_an_html_proxy_page(sim: Harness) -> None:
    sim.simulator.queue_fault("502")
    response = await sim.client.get("/v2/transcript")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in response.text


@pytest.mark.parametrize("kind", ["503", "504"])
async def test_503_and_504_have_no_body(sim: Harness, kind: str) -> None:
    sim.simulator.queue_fault(kind)
    response = await sim.client.get("/v2/transcript")
    assert response.status_code == int(kind) and response.content == b""


async def test_malformed_json(sim: Harness) -> None:
    sim.simulator.queue_fault("malformed-json")
    response = await sim.client.get("/v2/transcript")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_wrong_content_type(sim: Harness) -> None:
    sim.simulator.queue_fault("wrong-content-type")
    response = await sim.client.get("/v2/transcript")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_reset_aborts_mid_body_after_the_handler_ran(sim: Harness) -> None:
    sim.simulator.queue_fault("reset", path_prefix="/v2/transcript", method="POST")
    body = {"audio_url": "https://example.com/a.mp3", "speech_models": ["universal-2"]}
    with pytest.raises(httpx.RemoteProtocolError) as raised:
        await sim.client.post("/v2/transcript", json=body)
    assert isinstance(raised.value, SimulatedConnectionReset)
    # Like a real reset, the client cannot tell whether the job was created: it was.
    assert len(sim.simulator.transcripts) == 1


async def test_slow_body_sends_headers_then_trickles_the_body(app: Any, simulator: Any) -> None:
    simulator.queue_fault("slow-body", delay_seconds=0)
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v2/transcript",
        "raw_path": b"/v2/transcript",
        "query_string": b"",
        "headers": [(b"authorization", b"sim-key"), (b"host", b"sim")],
        "scheme": "http",
        "server": ("sim", 80),
        "root_path": "",
    }
    await app(scope, receive, send)
    assert messages[0]["type"] == "http.response.start" and messages[0]["status"] == 200
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert len(bodies) > 2 and bodies[-1]["more_body"] is False
    assert json.loads(b"".join(m["body"] for m in bodies))["transcripts"] == []


async def test_faults_match_method_and_count(sim: Harness) -> None:
    sim.simulator.queue_fault("503", count=2, path_prefix="/v2/transcript", method="POST")
    assert (await sim.client.get("/v2/transcript")).status_code == 200
    body = {"audio_url": "https://example.com/a.mp3", "speech_models": ["universal-2"]}
    statuses = [(await sim.client.post("/v2/transcript", json=body)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


async def test_bad_fault_requests_are_rejected(sim: Harness) -> None:
    for body in ({"fault": "teapot"}, {"fault": "429", "count": 0}, [1]):
        assert (await sim.client.post("/_sim/faults", json=body, headers=ADMIN)).status_code == 400
    with pytest.raises(ValueError):
        sim.simulator.queue_fault("teapot")


async def test_every_kind_can_be_queued(sim: Harness) -> None:
    for kind in FAULT_KINDS:
        await queue(sim, fault=kind, path_prefix="/nowhere")
    pending = (await sim.client.get("/_sim/faults", headers=ADMIN)).json()["pending"]
    assert [p["fault"] for p in pending] == list(FAULT_KINDS)


async def statuses_with(config: SimulatorConfig, count: int) -> list[int]:
    app = build_simulator_app(config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        return [
            (await client.get("/v2/transcript", headers={"Authorization": "sim-key"})).status_code
            for _ in range(count)
        ]


async def test_random_faults_are_seeded(clock: ManualClock) -> None:
    config = SimulatorConfig(clock=clock, rate_429=0.3, rate_5xx=0.2, seed=0)
    first = await statuses_with(config, 40)
    assert first == await statuses_with(config, 40)
    assert {200, 429} <= set(first) and any(s >= 500 for s in first)
    other_seed = await statuses_with(SimulatorConfig(clock=clock, rate_429=0.3, rate_5xx=0.2, seed=1), 40)
    assert other_seed != first


async def test_all_5xx_at_rate_one(clock: ManualClock) -> None:
    statuses = await statuses_with(SimulatorConfig(clock=clock, rate_5xx=1.0), 10)
    assert all(s in (500, 502, 503, 504) for s in statuses)


async def test_stats_count_upstream_requests_per_route(sim: Harness) -> None:
    done = await sim.completed()
    await sim.client.get(f"/v2/transcript/{done['id']}")
    await sim.client.get("/healthz")
    stats = (await sim.client.get("/_sim/stats", headers=ADMIN)).json()
    assert stats["requests"]["POST /v2/upload"] == 1
    assert stats["requests"]["POST /v2/transcript"] == 1
    assert stats["requests"]["GET /v2/transcript/{transcript_id}"] == 2
    assert stats["total"] == 4
    assert sim.simulator.count("GET", "/v2/transcript/{transcript_id}") == 2
    recorded = sim.simulator.requests[-1]
    assert (recorded.method, recorded.path) == ("GET", f"/v2/transcript/{done['id']}")


async def test_reset_clears_everything(sim: Harness) -> None:
    await sim.completed()
    sim.simulator.queue_fault("500", path_prefix="/nowhere")
    assert (await sim.client.post("/_sim/reset", headers=ADMIN)).json() == {"reset": True}
    stats = (await sim.client.get("/_sim/stats", headers=ADMIN)).json()
    assert stats == {
        "total": 0,
        "requests": {},
        "transcripts": 0,
        "uploads": 0,
        "tokens": 0,
        "streams": 0,
        "pending_faults": [],
    }


async def test_config_rejects_nonsense(clock: ManualClock) -> None:
    for bad in ({"rate_429": 1.5}, {"rate_429": 0.6, "rate_5xx": 0.6}, {"processing_delay_seconds": -1}):
        with pytest.raises(ValueError):
            SimulatorConfig(clock=clock, **bad)
