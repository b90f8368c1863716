"""The admin API (issue 15 part 7) over the gateway's HTTP app in process, on SQLite and PostgreSQL:
who gets in (no token 401, any other credential 403, an admin token never from a URL), the issue ->
use -> list -> revoke round trip with the revocation effective at once, the input bounds, the grants
listing, and no secret (the upstream key, a token, a client secret) in any answer."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from aai_mcp.access.principal import Authenticator
from aai_mcp.access.scopes import Scopes
from aai_mcp.access.tokens import inspect, mint, verify
from aai_mcp.gateway import build_gateway
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.state.issued_tokens import IssuedTokens
from aai_mcp.state.oauth_store import Grant, OAuthRecords
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.transports.http import build_http_app
from tests.support import CANARY_KEY, make_settings

pytestmark = pytest.mark.anyio

ORIGIN = "http://127.0.0.1:8000"
SECRET = "admin-api-secret-0123456789abcdef"
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}
    },
}  # fmt: skip
FAR = 4_000_000_000  # 2096: the admin tokens minted here
SOON = int(time.time()) + 30 * 86400  # the tokens issued through the API


def admin_token(**overrides: Any) -> str:
    scopes = overrides.pop("scopes", Scopes(tools=frozenset(), admin=True))
    return mint(SECRET.encode(), name="provisioner", scopes=scopes, expires_at=FAR, **overrides).token


@pytest.fixture
async def http(store: SqlStore) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(auth=["tokens"], token_secrets=SecretStr(SECRET))
    simulator = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    gateway = build_gateway(settings, transport=httpx.ASGITransport(app=simulator))
    authenticator = Authenticator(settings)
    authenticator.use_store(store)
    app = build_http_app(gateway, authenticator)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def issue(http: httpx.AsyncClient, **body: Any) -> httpx.Response:
    body = {"name": "team bot", "expires_at": SOON, **body}
    return await http.post("/admin/v1/tokens", json=body, headers=bearer(admin_token()))


def no_secrets(response: httpx.Response, *secrets: str) -> None:
    """The answer is never cached and holds neither the upstream key nor any of `secrets`."""
    assert response.headers["cache-control"] == "no-store"
    shown = response.text + str(response.headers)
    for secret in (CANARY_KEY, *secrets):
        assert secret not in shown


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/admin/v1/tokens"), ("POST", "/admin/v1/tokens"),
     ("DELETE", "/admin/v1/tokens/tok_aaaaaaaaaaaa"), ("GET", "/admin/v1/grants")],
)  # fmt: skip
async def test_no_token_401_any_other_credential_403(http: httpx.AsyncClient, method: str, path: str) -> None:
    none = await http.request(method, path, json={})
    assert none.status_code == 401 and none.json()["error"]["code"] == "missing_credentials"
    assert none.headers["www-authenticate"].startswith("Bearer")
    no_secrets(none)
    everything = mint(
        SECRET.encode(), name="all tools", scopes=Scopes(proxy=True, metrics=True), expires_at=FAR
    )
    ordinary = await http.request(method, path, json={}, headers=bearer(everything.token))
    assert ordinary.status_code == 403 and ordinary.json()["error"]["code"] == "admin_forbidden"
    no_secrets(ordinary, everything.token)
    forged = mint(b"x" * 40, name="forged", scopes=Scopes(tools=frozenset(), admin=True), expires_at=FAR)
    refused = await http.request(method, path, json={}, headers=bearer(forged.token))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "bad_signature"


async def test_an_admin_token_is_refused_in_the_url(http: httpx.AsyncClient) -> None:
    token = admin_token()
    in_path = await http.post(f"/mcp/t/{token}", json=INIT, headers=MCP_HEADERS)
    assert in_path.status_code == 401 and in_path.json()["error"]["code"] == "admin_token_in_path"
    # Nor does anything else in the request stand in for the bearer on the admin API.
    query = await http.get(f"/admin/v1/tokens?token={token}")
    assert query.status_code == 401
    key = await http.get("/admin/v1/tokens", headers={"x-assemblyai-key": CANARY_KEY})
    assert key.status_code == 401
    no_secrets(key)


async def test_issue_use_list_revoke(http: httpx.AsyncClient, store: SqlStore) -> None:
    issued = await issue(http, toolsets=["transcripts"], read_only=True, proxy=True, require_header=True)
    assert issued.status_code == 201, issued.text
    answer = issued.json()
    token, token_id, header = answer["token"], answer["id"], answer["header"]["X-AAI-MCP-Secret"]
    claims = verify(token, [SECRET.encode()], 0, frozenset(), header)
    assert claims.jti == token_id and claims.name == "team bot" and claims.exp == SOON
    assert claims.scopes == Scopes(toolsets=frozenset({"transcripts"}), read_only=True, proxy=True)
    assert answer["mcp_url_with_token"] == f"{ORIGIN}/mcp/t/{token}"
    assert answer["mcp_url"] == f"{ORIGIN}/mcp" and answer["proxy_base_url"] == f"{ORIGIN}/v1/assemblyai"
    assert answer["record"]["creator"].startswith("admin-api:tok_") and answer["record"]["state"] == "active"
    no_secrets(issued)

    headers = {**MCP_HEADERS, **bearer(token), "x-aai-mcp-secret": header}
    session = await http.post("/mcp", json=INIT, headers=headers)
    assert session.status_code == 200, session.text
    listed = (await http.get("/admin/v1/tokens", headers=bearer(admin_token()))).json()["tokens"]
    mine = next(entry for entry in listed if entry["id"] == token_id)
    assert mine["last_used_at"] is not None and mine["header_required"] is True
    assert mine["scopes"] == {"toolsets": ["transcripts"], "read_only": True, "proxy": True}
    assert "aai1." not in str(listed) and header not in str(listed)

    revoked = await http.delete(f"/admin/v1/tokens/{token_id}", headers=bearer(admin_token()))
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True, revoked.text
    refused = await http.post("/mcp", json=INIT, headers=headers)  # at once: no wait for the next refresh
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "revoked"
    assert store.is_revoked(token_id)
    record = IssuedTokens(store.engine).get(token_id)
    assert record is not None and record.revoked_at is not None
    again = await http.delete(f"/admin/v1/tokens/{token_id}", headers=bearer(admin_token()))
    assert again.json()["already_revoked"] is True


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "x" * 65}, 400, "invalid_request"),
        ({"name": "bad\nname"}, 400, "invalid_request"),
        ({"toolsets": ["transcripts", "no-such-toolset"]}, 400, "unknown_scope"),
        ({"methods": ["write"]}, 400, "unknown_scope"),
        ({"tools": ["no_such_tool"]}, 400, "unknown_scope"),
        ({"expires_at": 1_000}, 400, "bad_expiry"),
        ({"expires_at": "2999-01-01T00:00:00Z"}, 400, "bad_expiry"),
        ({"expires_at": None}, 400, "invalid_request"),
        ({"admin": True}, 400, "invalid_request"),
        ({"account": "no-such-team"}, 400, "unknown_account"),
        ({"account": "../etc"}, 400, "invalid_request"),
        ({"tools": []}, 400, "invalid_request"),
        ({"tools": ["get_transcript"], "methods": ["upload"]}, 400, "empty_scopes"),
        ({"name": "padding", "tags": ["t" * 20_000]}, 413, "body_too_large"),
    ],
)
async def test_bounds(
    http: httpx.AsyncClient, store: SqlStore, body: dict[str, Any], status: int, code: str
) -> None:
    refused = await issue(http, **body)
    assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), refused.text
    assert len(refused.json()["error"]["message"]) < 1000  # the input is never echoed whole
    no_secrets(refused)
    assert IssuedTokens(store.engine).listed() == []


async def test_bounds_on_the_request_itself(http: httpx.AsyncClient) -> None:
    wrong_type = await http.post("/admin/v1/tokens", content=b"name=x", headers=bearer(admin_token()))
    assert wrong_type.status_code == 400
    not_json = await http.post(
        "/admin/v1/tokens",
        content=b"{",
        headers={**bearer(admin_token()), "content-type": "application/json"},
    )
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_request"
    bad_id = await http.delete("/admin/v1/tokens/not-an-id", headers=bearer(admin_token()))
    assert bad_id.status_code == 400
    other_host = await http.get("/admin/v1/tokens", headers={**bearer(admin_token()), "host": "evil.example"})
    assert other_host.status_code == 421
    other_origin = await issue(http, name="x")  # same origin passes; a foreign one is refused
    assert other_origin.status_code == 201
    cross = await http.post(
        "/admin/v1/tokens", json={"name": "x", "expires_at": SOON},
        headers={**bearer(admin_token()), "origin": "https://evil.example"},
    )  # fmt: skip
    assert cross.status_code == 403


async def test_grants_are_listed_without_secrets(http: httpx.AsyncClient, store: SqlStore) -> None:
    records = OAuthRecords(store.engine)
    client_secret = "client-secret-never-shown-0123456789"
    records.save_client("client-1", {"client_name": "Claude", "client_secret": client_secret})
    grant = Grant("grant-1", "client-1", "operator", ["mcp", "toolset:transcripts"], ORIGIN + "/mcp")
    code = "code-never-shown-0123456789abcdef"
    records.grant_with_code(
        grant, code, redirect_uri="https://x.example/cb", explicit=True, challenge="c", ttl=60
    )
    listed = await http.get("/admin/v1/grants", headers=bearer(admin_token()))
    assert listed.status_code == 200
    (entry,) = listed.json()["grants"]
    assert entry["id"] == "grant-1" and entry["client_name"] == "Claude"
    assert entry["scopes"] == ["mcp", "toolset:transcripts"] and entry["revoked_at"] is None
    no_secrets(listed, client_secret, code)


async def test_the_admin_token_itself_is_listed_when_recorded(
    http: httpx.AsyncClient, store: SqlStore
) -> None:
    minted = mint(SECRET.encode(), name="ops", scopes=Scopes(tools=frozenset(), admin=True), expires_at=FAR)
    IssuedTokens(store.engine).record(minted.claims, "cli:ops")
    listed = (await http.get("/admin/v1/tokens", headers=bearer(minted.token))).json()["tokens"]
    assert [(e["id"], e["creator"], e["scopes"]) for e in listed] == [
        (minted.jti, "cli:ops", {"tools": [], "read_only": False, "admin": True})
    ]
    assert inspect(minted.token).scopes.admin


@pytest.mark.parametrize("auth", [["passthrough-key"], ["none"]])
async def test_no_admin_api_without_tokens_mode(store: SqlStore, auth: list[str]) -> None:
    settings = make_settings(auth=auth, token_secrets=SecretStr(SECRET))
    authenticator = Authenticator(settings)
    authenticator.use_store(store)
    app = build_http_app(build_gateway(settings), authenticator)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as client:
        missing = await client.get("/admin/v1/tokens", headers=bearer(admin_token()))
    assert missing.status_code == 404


async def test_every_admin_call_writes_one_audit_line_without_the_token(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aai_mcp.audit")
    issued = await issue(http)
    refused = await http.get("/admin/v1/tokens")
    audited = [r.getMessage() for r in caplog.records if r.name == "aai_mcp.audit"]
    lines = [line for line in audited if "admin=" in line]
    assert (issued.status_code, refused.status_code) == (201, 401)
    assert len(lines) == 2
    assert "admin=POST /admin/v1/tokens status=201" in lines[0] and "token=tok_" in lines[0]
    assert lines[1] == "token=- admin=GET /admin/v1/tokens status=401"
    token = issued.json()["token"]
    assert all(token not in line and admin_token() not in line for line in lines)
