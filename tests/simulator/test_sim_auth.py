"""Each host authenticates like upstream and answers 401 in its own error shape."""

from __future__ import annotations

import httpx
import pytest

API_KEY = "sim-key"

pytestmark = pytest.mark.anyio

CHAT = {"model": "claude-sonnet-4-6", "prompt": "hi"}


async def test_api_takes_the_bare_key_only(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v2/transcript")).status_code == 200
    bearer = await client.get("/v2/transcript", headers={"Authorization": f"Bearer {API_KEY}"})
    assert bearer.status_code == 401
    assert bearer.json() == {"error": "Authentication error, API token missing/invalid"}


async def test_api_rejects_missing_and_wrong_keys(client: httpx.AsyncClient) -> None:
    wrong = await client.get("/v2/transcript", headers={"Authorization": "nope"})
    assert wrong.status_code == 401
    client.headers.pop("Authorization")
    missing = await client.get("/v2/transcript/abc")
    assert missing.status_code == 401
    assert missing.json()["error"] == "Authentication error, API token missing/invalid"


@pytest.mark.parametrize("header", [API_KEY, f"Bearer {API_KEY}", f"bearer {API_KEY}"])
async def test_gateway_accepts_raw_and_bearer(client: httpx.AsyncClient, header: str) -> None:
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": header})
    assert response.status_code == 200, response.text


async def test_gateway_401_is_the_auth_middleware_envelope(client: httpx.AsyncClient) -> None:
    """The 2026-10 SDK's 401 shape (`llm_gateway/v1/api.py:15-54`), newer than the spec's nested one."""
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer bad"})
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "Invalid API key" and body["status"] == 401 and body["request_id"]


async def test_streaming_token_takes_the_bare_key_only(client: httpx.AsyncClient) -> None:
    params = {"expires_in_seconds": 60}
    assert (await client.get("/v3/token", params=params)).status_code == 200
    bearer = await client.get("/v3/token", params=params, headers={"Authorization": f"Bearer {API_KEY}"})
    assert bearer.status_code == 401
    assert isinstance(bearer.json()["error"], str)


@pytest.mark.parametrize("header", [API_KEY, f"Bearer {API_KEY}"])
async def test_agents_token_accepts_raw_and_bearer(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get(
        "/v1/token", params={"expires_in_seconds": 60}, headers={"Authorization": header}
    )
    assert response.status_code == 200


async def test_agents_token_rejects_wrong_key(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/token", params={"expires_in_seconds": 60}, headers={"Authorization": "x"}
    )
    assert response.status_code == 401
    assert isinstance(response.json()["error"], str)


async def test_health_needs_no_key_and_admin_routes_need_key_and_loopback_host(
    client: httpx.AsyncClient,
) -> None:
    loopback = {"Host": "127.0.0.1:8765"}
    assert (await client.get("/_sim/stats", headers=loopback)).status_code == 200
    assert (await client.get("/_sim/stats")).status_code == 421, "api.assemblyai.com is not loopback"
    client.headers.pop("Authorization")
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/_sim/stats", headers=loopback)).status_code == 401


async def test_unknown_paths_404_in_host_shape(client: httpx.AsyncClient) -> None:
    api = await client.get("/v2/nothing-here")
    assert api.status_code == 404 and api.json() == {"error": "Not found"}
    gateway = await client.post("/v1/embeddings", json={})
    assert gateway.status_code == 404 and gateway.json()["code"] == "not_found"
