"""`--auth oauth` over the gateway's HTTP app in process (issue 15, first slice, parts 2-3), on SQLite
and PostgreSQL: discovery (RFC 9728, RFC 8414, the 401's resource_metadata), DCR, authorize and token
with PKCE S256, the consent page (CSRF, not frameable, operator sign-in, narrowing), then a tool call
with the token through the one scope check; and each wrong step refused with its OAuth error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from aai_mcp.access.scopes import Scopes
from aai_mcp.access.tokens import mint
from aai_mcp.state.store_sql import SqlStore
from tests.support.oauth_app import oauth_served
from tests.support.oauth_flow import (
    REDIRECT,
    authorize,
    code_for,
    consent,
    exchange,
    new_pkce,
    open_consent,
    query,
    register,
)

pytestmark = pytest.mark.anyio

ORIGIN = "http://127.0.0.1:8000"
SECRET = "oauth-http-secret-0123456789abcdef"
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
CLIENT_INFO = {"name": "t", "version": "1"}
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": CLIENT_INFO},
}  # fmt: skip


@pytest.fixture
async def http(store: SqlStore) -> AsyncIterator[httpx.AsyncClient]:
    async with oauth_served(store, SECRET) as served:
        yield served.http


async def mcp_call(http: httpx.AsyncClient, token: str, body: dict[str, Any] = INIT) -> httpx.Response:
    return await http.post("/mcp", json=body, headers={**MCP_HEADERS, "authorization": f"Bearer {token}"})


async def test_discovery_from_a_401(http: httpx.AsyncClient) -> None:
    refused = await http.post("/mcp", json=INIT, headers=MCP_HEADERS)
    assert refused.status_code == 401
    metadata_url = f"{ORIGIN}/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata_url}"' in refused.headers["www-authenticate"]
    resource = (await http.get(metadata_url)).json()
    assert resource["resource"] == ORIGIN + "/mcp"
    assert [server.rstrip("/") for server in resource["authorization_servers"]] == [ORIGIN]
    server = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["registration_endpoint"] == ORIGIN + "/register"
    assert "mcp" in server["scopes_supported"] and "mcp:read-only" in server["scopes_supported"]


async def test_the_full_flow_issues_a_token_with_the_narrowed_scopes(http: httpx.AsyncClient) -> None:
    client_id = await register(http)
    pkce = new_pkce()
    code = await code_for(http, client_id, pkce, toolset=["transcripts", "no-such-toolset"], read_only="1")
    issued = await exchange(http, client_id, code, pkce.verifier)
    assert issued.status_code == 200, issued.text
    token = issued.json()
    assert token["token_type"] == "Bearer" and 3599 <= token["expires_in"] <= 3600  # a second may tick
    assert token["scope"] == "toolset:transcripts mcp:read-only"
    session = await mcp_call(http, token["access_token"])
    assert session.status_code == 200, session.text
    session_id = session.headers["mcp-session-id"]
    listed = await http.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        headers={
            **MCP_HEADERS,
            "authorization": f"Bearer {token['access_token']}",
            "mcp-session-id": session_id,
        },
    )
    assert listed.status_code == 200, listed.text
    # The one scope path: only the approved toolset's read-only tools are offered.
    assert "list_transcripts" in listed.text and "delete_transcript" not in listed.text


async def test_the_consent_page_cannot_be_framed_and_needs_its_own_csrf(http: httpx.AsyncClient) -> None:
    client_id = await register(http)
    started = await authorize(http, client_id, new_pkce())
    page = await http.get(started.headers["location"])
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and "Flow test" in page.text
    assert "127.0.0.1:3000" in page.text  # the redirect host is shown to the operator
    form = await open_consent(http, started.headers["location"])
    forged = await consent(http, form, csrf="0" * 64)
    assert forged.status_code == 403
    http.cookies.clear()  # another site's form: no SameSite=Strict cookie comes with it
    cross_site = await consent(http, form)
    assert cross_site.status_code == 403


async def test_a_wrong_password_approves_nothing(http: httpx.AsyncClient) -> None:
    client_id = await register(http)
    started = await authorize(http, client_id, new_pkce())
    form = await open_consent(http, started.headers["location"])
    refused = await consent(http, form, password="guess")
    assert refused.status_code == 401 and "Sign-in failed" in refused.text
    assert "location" not in refused.headers
    form = await open_consent(http, started.headers["location"])
    unknown = await consent(http, form, toolset=["no-such-toolset"])
    assert unknown.status_code == 400 and "Choose at least one toolset" in unknown.text


async def test_plain_pkce_and_an_unregistered_redirect_are_refused(http: httpx.AsyncClient) -> None:
    client_id = await register(http)
    plain = await authorize(http, client_id, new_pkce(), code_challenge_method="plain")
    assert plain.status_code == 302 and query(plain.headers["location"])["error"] == "invalid_request"
    elsewhere = await authorize(http, client_id, new_pkce(), redirect_uri="https://evil.test/callback")
    # Never redirected to a URI the client did not register (no open redirect).
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers
    assert elsewhere.json()["error"] == "invalid_request"


async def test_wrong_verifier_replay_and_wrong_redirect_are_refused(http: httpx.AsyncClient) -> None:
    client_id = await register(http)
    pkce = new_pkce()
    code = await code_for(http, client_id, pkce)
    # No verifier at all: refused before the code is looked at (and the code still works after).
    no_verifier = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
    missing = await http.post("/token", data={**no_verifier, "redirect_uri": REDIRECT})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong_verifier = await exchange(http, client_id, code, new_pkce().verifier)
    assert wrong_verifier.status_code == 400 and wrong_verifier.json()["error"] == "invalid_grant"
    wrong_redirect = await exchange(http, client_id, code, pkce.verifier, redirect="http://127.0.0.1:3000/x")
    assert wrong_redirect.status_code == 400 and wrong_redirect.json()["error"] == "invalid_request"
    assert (await exchange(http, client_id, code, pkce.verifier)).status_code == 200
    replay = await exchange(http, client_id, code, pkce.verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


async def test_a_token_for_another_resource_or_an_operator_token_is_refused(http: httpx.AsyncClient) -> None:
    other = mint(
        SECRET.encode(), name="x", scopes=Scopes(), expires_at=None, audience="https://other.test/mcp"
    )
    refused = await mcp_call(http, other.token)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "wrong_resource"
    # auth oauth alone: a token minted by the operator (no audience) is not an OAuth token.
    minted = mint(SECRET.encode(), name="x", scopes=Scopes(), expires_at=None)
    assert (await mcp_call(http, minted.token)).json()["error"]["code"] == "tokens_disabled"
    assert REDIRECT.startswith("http://127.0.0.1")


async def test_a_denied_request_goes_back_with_access_denied_and_is_decided(http: httpx.AsyncClient) -> None:
    client_id = await register(http)
    started = await authorize(http, client_id, new_pkce())
    form = await open_consent(http, started.headers["location"])
    denied = await consent(http, form, decision="deny", password="")
    assert denied.status_code == 303
    back = query(denied.headers["location"])
    assert denied.headers["location"].startswith(REDIRECT)
    assert back == {"error": "access_denied", "state": "state-1"}
    again = await http.get(started.headers["location"])
    assert again.status_code == 400 and "already decided" in again.text
