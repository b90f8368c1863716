"""Refresh and revocation over real HTTP (issue 15 part 5): the mcp SDK's OAuthClientProvider against
`aai-mcp serve --auth oauth` on loopback registers (DCR, with the refresh grant), consents, calls a
tool, refreshes its expired access token by itself (a rotated pair comes back) and calls again; then
it revokes at /revoke (RFC 7009) and the server refuses the family. Negative cases each get their
OAuth error: refresh-token reuse (invalid_grant, then 401 for the family's access token), scope
beyond the consent (invalid_scope), a revoked token (401 revoked, invalid_grant); and the operator's
`aai-mcp oauth revoke` reaches the running server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl

from aai_mcp.access.operator_sign_in import hash_password
from tests.support.oauth_client import FormOperator as Operator
from tests.support.oauth_client import MemoryStorage
from tests.support.oauth_flow import PASSWORD, REDIRECT, code_for, exchange, new_pkce
from tests.support.servers import ServerProcess, aai_mcp_command, clean_env, free_port, server_process
from tests.test_oauth_http import INIT, MCP_HEADERS
from tests.test_oauth_tokens_http import refresh, register

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

SECRET = "oauth-refresh-served-secret-0123456789"
REFUSED_WITHIN = 30.0  # revocations are followed every 0.5 s; generous for a loaded machine


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("oauth-refresh-data")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ServerProcess]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = clean_env(
        AAI_MCP_TOKEN_SECRETS=SECRET,
        AAI_MCP_OAUTH_OPERATOR_PASSWORD_HASH=hash_password(PASSWORD),
        AAI_MCP_DATA_DIR=str(data_dir),
    )
    command = aai_mcp_command("serve", port, "--auth", "oauth", "--public-url", origin)
    with server_process(command, port, env) as started:
        yield started


async def mcp_status(base_url: str, access_token: str) -> tuple[int, str]:
    headers = {**MCP_HEADERS, "authorization": f"Bearer {access_token}"}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{base_url}/mcp", json=INIT, headers=headers)
    code = response.json().get("error", {}).get("code", "") if response.status_code != 200 else ""
    return response.status_code, code


async def refused(base_url: str, access_token: str) -> tuple[int, str]:
    """The answer once every instance follows the revocation (polled: it happens in another process)."""
    with anyio.fail_after(REFUSED_WITHIN):
        while (answer := await mcp_status(base_url, access_token))[0] == 200:
            await anyio.sleep(0.2)
    return answer


async def test_the_sdk_client_refreshes_by_itself_then_revokes(server: ServerProcess) -> None:
    operator, storage = Operator(server.base_url), MemoryStorage()
    metadata = OAuthClientMetadata(
        client_name="SDK refresh", redirect_uris=[AnyUrl(REDIRECT)], response_types=["code"],
        grant_types=["authorization_code", "refresh_token"], token_endpoint_auth_method="none",
    )  # fmt: skip
    auth = OAuthClientProvider(
        f"{server.base_url}/mcp", metadata, storage, operator.redirect, operator.callback
    )
    with anyio.fail_after(180):
        async with httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30, read=120)) as http:
            async with Client(streamable_http_client(f"{server.base_url}/mcp", http_client=http)) as client:
                first = await client.call_tool("list_transcripts", {})
                issued = storage.tokens
                assert issued is not None and issued.refresh_token
                auth.context.token_expiry_time = time.time() - 1  # the hour has passed, as the client sees it
                second = await client.call_tool("list_transcripts", {})
    assert not first.is_error and not second.is_error, (first, second)
    refreshed = storage.tokens
    assert refreshed is not None and refreshed.refresh_token
    assert refreshed.access_token != issued.access_token and refreshed.refresh_token != issued.refresh_token
    assert storage.client is not None
    client_id = str(storage.client.client_id)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        revoked = await http.post("/revoke", data={"token": refreshed.refresh_token, "client_id": client_id})
        assert revoked.status_code == 200
        assert await refused(server.base_url, refreshed.access_token) == (401, "revoked")
        again = await refresh(http, client_id, refreshed.refresh_token)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_reuse_and_scope_beyond_consent_get_their_oauth_errors(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        client_id = str((await register(http))["client_id"])
        pkce = new_pkce()
        code = await code_for(http, client_id, pkce, toolset=["transcripts"])
        first = (await exchange(http, client_id, code, pkce.verifier)).json()
        wider = await refresh(http, client_id, first["refresh_token"], scope="mcp")
        assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
        second = (await refresh(http, client_id, first["refresh_token"])).json()
        assert await mcp_status(server.base_url, second["access_token"]) == (200, "")
        reuse = await refresh(http, client_id, first["refresh_token"])
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
        assert await refused(server.base_url, second["access_token"]) == (401, "revoked")


async def test_the_operator_revokes_a_grant_of_the_running_server(
    server: ServerProcess, data_dir: Path
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        client_id = str((await register(http))["client_id"])
        pkce = new_pkce()
        tokens = (
            await exchange(http, client_id, await code_for(http, client_id, pkce), pkce.verifier)
        ).json()
        assert await mcp_status(server.base_url, tokens["access_token"]) == (200, "")
        env = clean_env(AAI_MCP_DATA_DIR=str(data_dir))
        cli = [sys.executable, "-m", "aai_mcp", "oauth"]
        listed = subprocess.run([*cli, "clients"], env=env, capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0 and client_id in listed.stdout, listed.stderr
        grants = subprocess.run([*cli, "grants"], env=env, capture_output=True, text=True, timeout=60)
        line = next(line for line in grants.stdout.splitlines() if f"\tclient {client_id}\t" in line)
        revoke = subprocess.run(
            [*cli, "revoke", line.split("\t")[0]], env=env, capture_output=True, text=True, timeout=60
        )
        assert revoke.returncode == 0, revoke.stderr
        assert await refused(server.base_url, tokens["access_token"]) == (401, "revoked")
        gone = await refresh(http, client_id, tokens["refresh_token"])
        assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"
