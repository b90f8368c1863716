"""Consent narrowing beyond toolsets (issue 15 part 4), in process on SQLite and PostgreSQL: the method
classes, the upstream account and the grant's lifetime the operator picks on the consent page are what
the issued token carries, and real tool calls honour them through the one scope check."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, get_args

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from aai_mcp.access.operator_sign_in import hash_password
from aai_mcp.access.tokens import TokenError, check_signature, verify
from aai_mcp.catalog.model import Effect
from aai_mcp.state.store_schema import oauth_grants
from aai_mcp.state.store_sql import SqlStore
from tests.support.oauth_app import oauth_served
from tests.support.oauth_flow import (
    authorize,
    code_for,
    consent,
    exchange,
    new_pkce,
    open_consent,
    query,
    register,
)
from tests.support.two_accounts import KEY_A, KEY_B, TwoAccounts

pytestmark = pytest.mark.anyio

ORIGIN = "http://127.0.0.1:8000"
SECRET = "oauth-narrowing-secret-0123456789abcdef"
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
CLIENT_INFO = {"name": "t", "version": "1"}
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": CLIENT_INFO},
}  # fmt: skip


class Served:
    def __init__(self, http: httpx.AsyncClient, upstream: TwoAccounts, store: SqlStore) -> None:
        self.http, self.upstream, self.store = http, upstream, store


@pytest.fixture
async def served(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    monkeypatch.setenv("AAI_MCP_TEST_TEAM_KEY", KEY_B)
    upstream = TwoAccounts()
    async with oauth_served(
        store, SECRET, upstream.transport(),
        api_key=SecretStr(KEY_A), accounts=["team=env:AAI_MCP_TEST_TEAM_KEY"],
        oauth_operator_password_hash=SecretStr(hash_password("correct horse battery staple", n=2**10)),
    ) as app:  # fmt: skip
        yield Served(app.http, upstream, store)


async def token_for(http: httpx.AsyncClient, **consent_fields: Any) -> dict[str, Any]:
    client_id = await register(http)
    pkce = new_pkce()
    code = await code_for(http, client_id, pkce, **consent_fields)
    issued = await exchange(http, client_id, code, pkce.verifier)
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


async def rpc(http: httpx.AsyncClient, token: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One JSON-RPC call in a fresh session; the result (or error) object."""
    auth = {**MCP_HEADERS, "authorization": f"Bearer {token}"}
    opened = await http.post("/mcp", json=INIT, headers=auth)
    assert opened.status_code == 200, opened.text
    body = {"jsonrpc": "2.0", "id": 2, "method": method, "params": params}
    answer = await http.post(
        "/mcp", json=body, headers={**auth, "mcp-session-id": opened.headers["mcp-session-id"]}
    )
    assert answer.status_code == 200, answer.text
    text = answer.text
    if text.startswith("event:") or text.startswith("data:"):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    return dict(json.loads(text))


async def test_the_page_offers_method_classes_accounts_and_lifetimes(served: Served) -> None:
    client_id = await register(served.http)
    started = await authorize(served.http, client_id, new_pkce())
    form = await open_consent(served.http, started.headers["location"])
    assert form.methods == list(get_args(Effect))  # every class a token can be limited to
    assert form.selected == {"account": "default", "expiry": "30"}
    page = (await served.http.get(started.headers["location"])).text
    assert '<option value="team">team</option>' in page and '<option value="90">90 days</option>' in page
    # Accounts are offered by name: no key of theirs is ever on the page.
    assert KEY_A not in page and KEY_B not in page


async def test_a_method_class_left_out_is_refused_on_a_real_call(served: Served) -> None:
    token = await token_for(served.http, method=["read"])
    granted = token["scope"].split()
    assert "method:read" in granted and not [
        s for s in granted if s.startswith("method:") and s != "method:read"
    ]
    listed = await rpc(served.http, token["access_token"], "tools/list", {})
    names = {tool["name"] for tool in listed["result"]["tools"]}
    assert "list_transcripts" in names and "delete_transcript" not in names
    refused = await rpc(
        served.http,
        token["access_token"],
        "tools/call",
        {"name": "delete_transcript", "arguments": {"transcript_id": "tr_0"}},
    )
    # Out of scope is out of sight: the same answer an operator token with --methods read gets.
    assert refused["error"]["message"] == "Unknown tool: delete_transcript"
    assert not [call for call in served.upstream.calls if call.method == "DELETE"]


async def test_the_account_chosen_is_the_key_used_upstream(served: Served) -> None:
    for account, key in (("team", KEY_B), ("default", KEY_A)):
        token = await token_for(served.http, account=account)
        assert check_signature(token["access_token"], [SECRET.encode()]).account == account
        called = await rpc(
            served.http, token["access_token"], "tools/call", {"name": "list_transcripts", "arguments": {}}
        )
        assert "result" in called, called
        assert served.upstream.keys_called()[-1] == key


async def test_an_account_or_lifetime_not_offered_is_refused(served: Served) -> None:
    client_id = await register(served.http)
    started = await authorize(served.http, client_id, new_pkce())
    for bad in ({"account": "elsewhere"}, {"expiry": "3650"}, {"method": ["sideways"]}):
        form = await open_consent(served.http, started.headers["location"])
        refused = await consent(served.http, form, **bad)
        assert refused.status_code == 400 and "location" not in refused.headers, bad


def set_grant_end(store: SqlStore, ends: float) -> None:
    with store.engine.begin() as connection:
        connection.execute(oauth_grants.update().values(expires_at=ends))


async def test_access_tokens_never_outlive_the_grant(served: Served) -> None:
    day = await token_for(served.http, expiry="1")
    assert 3599 <= day["expires_in"] <= 3600  # an hour (a second may tick), well inside the grant's day
    with served.store.engine.connect() as connection:
        ends = connection.execute(sa.select(sa.func.max(oauth_grants.c.expires_at))).scalar_one()
    assert abs(ends - (time.time() + 86400)) < 120
    # A grant ending in 30 s: the token ends with it, and is refused from then on.
    client_id = await register(served.http)
    pkce = new_pkce()
    code = await code_for(served.http, client_id, pkce)
    set_grant_end(served.store, time.time() + 30)
    short = (await exchange(served.http, client_id, code, pkce.verifier)).json()
    assert 0 < short["expires_in"] <= 30
    claims = check_signature(short["access_token"], [SECRET.encode()])
    with pytest.raises(TokenError) as ended:
        verify(short["access_token"], [SECRET.encode()], float(claims.exp or 0) + 1, set(), None)
    assert ended.value.code == "expired"
    # A grant already over: its code buys nothing.
    pkce = new_pkce()
    code = await code_for(served.http, client_id, pkce)
    set_grant_end(served.store, time.time() - 1)
    over = await exchange(served.http, client_id, code, pkce.verifier)
    assert over.status_code == 400 and over.json()["error"] == "invalid_grant"


async def test_unticking_every_method_class_approves_nothing(served: Served) -> None:
    client_id = await register(served.http)
    started = await authorize(served.http, client_id, new_pkce())
    form = await open_consent(served.http, started.headers["location"])
    refused = await consent(served.http, form, method=[])
    assert refused.status_code == 400 and "method class" in refused.text
    assert query(started.headers["location"])["request"]


async def test_clients_are_told_to_ask_for_everything_and_may_ask_for_less(served: Served) -> None:
    # The MCP spec's clients request the resource metadata's scopes whole: only `mcp`, so no client
    # forces read-only or a method class on itself by default; the server metadata lists them all.
    resource = (await served.http.get("/.well-known/oauth-protected-resource/mcp")).json()
    assert resource["scopes_supported"] == ["mcp"]
    server = (await served.http.get("/.well-known/oauth-authorization-server")).json()
    assert {"mcp:read-only", "method:read", "method:delete"} <= set(server["scopes_supported"])
