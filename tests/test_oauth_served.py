"""OAuth over real HTTP (issue 15, first slice, part 4): the mcp SDK's OAuthClientProvider against
`aai-mcp serve --auth oauth` on loopback runs discovery, DCR, PKCE and the code exchange; the consent
form is submitted by an HTTP client standing in for the operator's browser (a later slice drives a real
one); then a tool call with the token. Plain PKCE and a wrong verifier against the same server get
their OAuth errors."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    OAuthClientMetadata,
)
from pydantic import AnyUrl

from aai_mcp.access.operator_sign_in import hash_password
from tests.support.oauth_client import FormOperator as Operator
from tests.support.oauth_client import MemoryStorage
from tests.support.oauth_flow import (
    PASSWORD,
    REDIRECT,
    authorize,
    consent,
    exchange,
    new_pkce,
    open_consent,
    query,
    register,
)
from tests.support.servers import ServerProcess, aai_mcp_command, clean_env, free_port, server_process

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

SECRET = "oauth-served-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    password_hash = hash_password(PASSWORD)
    env = clean_env(AAI_MCP_TOKEN_SECRETS=SECRET, AAI_MCP_OAUTH_OPERATOR_PASSWORD_HASH=password_hash)
    command = aai_mcp_command("serve", port, "--auth", "oauth", "--public-url", origin)
    with server_process(command, port, env) as started:
        yield started


async def test_the_sdk_client_registers_consents_and_calls_a_tool(server: ServerProcess) -> None:
    operator = Operator(server.base_url)
    storage = MemoryStorage()
    metadata = OAuthClientMetadata(
        client_name="SDK flow", redirect_uris=[AnyUrl(REDIRECT)], grant_types=["authorization_code"],
        response_types=["code"], token_endpoint_auth_method="none",
    )  # fmt: skip
    auth = OAuthClientProvider(
        f"{server.base_url}/mcp", metadata, storage, operator.redirect, operator.callback
    )
    with anyio.fail_after(120):
        async with httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30, read=120)) as http:
            async with Client(streamable_http_client(f"{server.base_url}/mcp", http_client=http)) as client:
                result = await client.call_tool("list_transcripts", {})
    assert operator.consent_status == 303
    assert storage.client is not None and storage.client.client_id  # registered by DCR
    assert storage.tokens is not None and storage.tokens.access_token.startswith("aai1.")
    assert not result.is_error, result


async def test_plain_pkce_and_a_wrong_verifier_get_their_oauth_errors(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        client_id = await register(http)
        plain = await authorize(http, client_id, new_pkce(), code_challenge_method="plain")
        assert query(plain.headers["location"])["error"] == "invalid_request"
        pkce = new_pkce()
        started = await authorize(http, client_id, pkce)
        form = await open_consent(http, started.headers["location"])
        code = query((await consent(http, form)).headers["location"])["code"]
        wrong = await exchange(http, client_id, code, new_pkce().verifier)
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        replayed = [await exchange(http, client_id, code, pkce.verifier) for _ in range(2)]
        assert [r.status_code for r in replayed] == [200, 400]
        assert replayed[1].json()["error"] == "invalid_grant"


async def test_a_redirect_uri_other_than_the_registered_one_is_refused(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        client_id = await register(http)
        elsewhere = await authorize(http, client_id, new_pkce(), redirect_uri="https://evil.test/callback")
        # Refused on the spot, never redirected there (no open redirect through redirect_uri).
        assert elsewhere.status_code == 400 and "location" not in elsewhere.headers
        assert elsewhere.json()["error"] == "invalid_request"
        pkce = new_pkce()
        started = await authorize(http, client_id, pkce)
        form = await open_consent(http, started.headers["location"])
        code = query((await consent(http, form)).headers["location"])["code"]
        other = await exchange(http, client_id, code, pkce.verifier, redirect="http://127.0.0.1:3000/other")
        assert other.status_code == 400 and other.json()["error"] == "invalid_request"


def test_the_start_names_the_issuer(server: ServerProcess) -> None:
    banner = f"OAuth authorization server {server.base_url} for {server.base_url}/mcp"
    assert banner in server.stderr()
    assert "no client can be approved" not in server.stderr()  # the password hash is set
