"""Refresh and revocation over the gateway's HTTP app in process (issue 15 part 5), on SQLite and
PostgreSQL: the token endpoint rotates refresh tokens and refuses reuse (invalid_grant, then the
family's access token gets 401), scope beyond the consent (invalid_scope) and another resource
(invalid_target); RFC 7009 at /revoke (advertised) revokes what it is given, answers 200 for unknown
tokens and authenticates confidential clients against their hashed secret. No response or log line
carries the canary key, a refresh token or a client secret."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from aai_mcp.access.principal import Authenticator
from aai_mcp.state.store_sql import SqlStore
from tests.support import CANARY_KEY
from tests.support.oauth_app import oauth_served
from tests.support.oauth_flow import REDIRECT, code_for, exchange, new_pkce
from tests.test_oauth_http import INIT, MCP_HEADERS, ORIGIN, SECRET

pytestmark = pytest.mark.anyio


@dataclass
class Served:
    http: httpx.AsyncClient
    authenticator: Authenticator

    async def revocations_read(self) -> None:
        """What a follower reads within REFRESH_SECONDS, read now (no waiting on a timer)."""
        assert self.authenticator.feed is not None
        await self.authenticator.feed.refresh_soon()


@pytest.fixture
async def served(store: SqlStore) -> AsyncIterator[Served]:
    async with oauth_served(store, SECRET) as app:
        yield Served(app.http, app.authenticator)


async def register(http: httpx.AsyncClient, method: str = "none") -> dict[str, Any]:
    metadata = {
        "redirect_uris": [REDIRECT], "client_name": "Refresh test", "token_endpoint_auth_method": method,
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
    }  # fmt: skip
    response = await http.post("/register", json=metadata)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def tokens_for(http: httpx.AsyncClient, client_id: str, **consent: Any) -> dict[str, Any]:
    pkce = new_pkce()
    issued = await exchange(http, client_id, await code_for(http, client_id, pkce, **consent), pkce.verifier)
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


async def refresh(http: httpx.AsyncClient, client_id: str, token: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id, **extra}
    return await http.post("/token", data=data)


async def mcp_status(http: httpx.AsyncClient, access_token: str) -> tuple[int, str]:
    headers = {**MCP_HEADERS, "authorization": f"Bearer {access_token}"}
    response = await http.post("/mcp", json=INIT, headers=headers)
    code = response.json().get("error", {}).get("code", "") if response.status_code != 200 else ""
    return response.status_code, code


async def test_revocation_and_refresh_are_advertised(served: Served) -> None:
    server = (await served.http.get("/.well-known/oauth-authorization-server")).json()
    assert server["revocation_endpoint"] == ORIGIN + "/revoke"
    assert "refresh_token" in server["grant_types_supported"]


async def test_refresh_rotates_and_reuse_revokes_the_family(served: Served) -> None:
    http = served.http
    client_id = str((await register(http))["client_id"])
    first = await tokens_for(http, client_id)
    assert first["refresh_token"] and 3599 <= first["expires_in"] <= 3600  # a second may tick
    rotated = await refresh(http, client_id, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert await mcp_status(http, second["access_token"]) == (200, "")
    reuse = await refresh(http, client_id, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    await served.revocations_read()
    assert await mcp_status(http, second["access_token"]) == (401, "revoked")
    assert await mcp_status(http, first["access_token"]) == (401, "revoked")
    after = await refresh(http, client_id, second["refresh_token"])  # the newest one went with it
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"


async def test_scope_beyond_the_consent_and_another_resource_are_refused(served: Served) -> None:
    http = served.http
    client_id = str((await register(http))["client_id"])
    first = await tokens_for(http, client_id, toolset=["transcripts"], read_only="1")
    assert first["scope"] == "toolset:transcripts mcp:read-only"
    for wider in ("mcp", "toolset:transcripts toolset:audio"):
        refused = await refresh(http, client_id, first["refresh_token"], scope=wider)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope", wider
    other = await refresh(http, client_id, first["refresh_token"], resource="https://other.test/mcp")
    assert other.status_code == 400 and other.json()["error"] == "invalid_target"
    # None of those spent the token: the consented scopes (or fewer) still refresh.
    narrower = await refresh(http, client_id, first["refresh_token"], scope="toolset:transcripts")
    assert narrower.status_code == 200 and narrower.json()["scope"] == "toolset:transcripts"


async def test_revoking_an_access_token_a_refresh_token_or_an_unknown_one(served: Served) -> None:
    http = served.http
    client_id = str((await register(http))["client_id"])
    first = await tokens_for(http, client_id)
    revoked = await http.post("/revoke", data={"token": first["access_token"], "client_id": client_id})
    assert revoked.status_code == 200
    await served.revocations_read()
    assert await mcp_status(http, first["access_token"]) == (401, "revoked")
    second = (await refresh(http, client_id, first["refresh_token"])).json()  # the family stands
    assert await mcp_status(http, second["access_token"]) == (200, "")
    unknown = await http.post("/revoke", data={"token": "no-such-token", "client_id": client_id})
    assert unknown.status_code == 200  # RFC 7009 §2.2
    hinted = {"token": second["refresh_token"], "token_type_hint": "refresh_token", "client_id": client_id}
    assert (await http.post("/revoke", data=hinted)).status_code == 200
    await served.revocations_read()
    assert await mcp_status(http, second["access_token"]) == (401, "revoked")
    gone = await refresh(http, client_id, second["refresh_token"])
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"


async def test_a_client_cannot_revoke_another_clients_token(served: Served) -> None:
    http = served.http
    owner = str((await register(http))["client_id"])
    stranger = str((await register(http))["client_id"])
    tokens = await tokens_for(http, owner)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert (await http.post("/revoke", data={"token": token, "client_id": stranger})).status_code == 200
    await served.revocations_read()
    assert await mcp_status(http, tokens["access_token"]) == (200, "")
    assert (await refresh(http, owner, tokens["refresh_token"])).status_code == 200


async def test_confidential_clients_authenticate_with_their_hashed_secret(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http = served.http
    basic = await register(http, "client_secret_basic")
    post = await register(http, "client_secret_post")
    seen: list[str] = []
    pkce = new_pkce()
    code = await code_for(http, basic["client_id"], pkce)
    form = {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": basic["client_id"], "code_verifier": pkce.verifier,
    }  # fmt: skip
    for header in (
        None,
        _basic(basic["client_id"], "wrong"),
        _basic(post["client_id"], post["client_secret"]),
    ):
        refused = await http.post("/token", data=form, headers={"authorization": header} if header else {})
        seen.append(refused.text)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    issued = await http.post(
        "/token", data=form, headers={"authorization": _basic(basic["client_id"], basic["client_secret"])}
    )
    assert issued.status_code == 200, issued.text
    refresh_token = issued.json()["refresh_token"]
    refused = await refresh(http, post["client_id"], "x", client_secret="wrong")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    unauthenticated = await http.post(
        "/revoke", data={"token": refresh_token, "client_id": basic["client_id"]}
    )
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"] == "unauthorized_client"
    seen += [issued.text, refused.text, unauthenticated.text]
    for secret in (CANARY_KEY, basic["client_secret"], post["client_secret"], refresh_token):
        assert secret not in caplog.text
        assert not any(secret in text for text in seen if secret != refresh_token)


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


async def test_a_refreshed_token_keeps_the_mcp_session_of_the_one_it_replaced(served: Served) -> None:
    http = served.http
    client_id = str((await register(http))["client_id"])
    first = await tokens_for(http, client_id)
    opened = await http.post(
        "/mcp", json=INIT, headers={**MCP_HEADERS, "authorization": f"Bearer {first['access_token']}"}
    )
    session = {"mcp-session-id": opened.headers["mcp-session-id"]}
    second = (await refresh(http, client_id, first["refresh_token"])).json()
    listed = await http.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        headers={**MCP_HEADERS, **session, "authorization": f"Bearer {second['access_token']}"},
    )
    assert listed.status_code == 200 and "list_transcripts" in listed.text
    # Another family (another consent of the same client) does not get in.
    other = await tokens_for(http, client_id)
    stranger = await http.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        headers={**MCP_HEADERS, **session, "authorization": f"Bearer {other['access_token']}"},
    )
    assert stranger.status_code == 404
