"""Client ID Metadata Documents over real HTTP (issue 15 part 2): the mcp SDK's OAuthClientProvider with
a client_metadata_url against `aai-mcp serve --auth oauth`, the document served over https on
loopback. The served process trusts the test certificate through SSL_CERT_FILE and may fetch from
127.0.0.1 through AAI_MCP_OAUTH_CLIENT_METADATA_PRIVATE_HOSTS; the consent form is posted by an HTTP
client standing in for the operator's browser."""

from __future__ import annotations

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
from tests.support.metadata_documents import DocumentServer, document_server
from tests.support.oauth_client import FormOperator as Operator
from tests.support.oauth_client import MemoryStorage
from tests.support.oauth_flow import PASSWORD, REDIRECT, authorize, new_pkce
from tests.support.servers import ServerProcess, aai_mcp_command, clean_env, free_port, server_process

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

SECRET = "cimd-served-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    with document_server(tmp_path_factory.mktemp("cimd-served")) as server:
        yield server


@pytest.fixture(scope="module")
def server(documents: DocumentServer) -> Iterator[ServerProcess]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = clean_env(
        AAI_MCP_TOKEN_SECRETS=SECRET,
        AAI_MCP_OAUTH_OPERATOR_PASSWORD_HASH=hash_password(PASSWORD),
        AAI_MCP_OAUTH_CLIENT_METADATA_PRIVATE_HOSTS="127.0.0.1",
        SSL_CERT_FILE=str(Path(documents.cert.cert)),
    )
    command = aai_mcp_command("serve", port, "--auth", "oauth", "--public-url", origin)
    with server_process(command, port, env) as started:
        yield started


async def test_the_sdk_client_uses_its_metadata_document_and_calls_a_tool(
    server: ServerProcess, documents: DocumentServer
) -> None:
    operator = Operator(server.base_url)
    storage = MemoryStorage()
    metadata = OAuthClientMetadata(
        client_name="ignored: the document names the client", redirect_uris=[AnyUrl(REDIRECT)],
        grant_types=["authorization_code"], response_types=["code"], token_endpoint_auth_method="none",
    )  # fmt: skip
    document_url = documents.url("good.json")
    auth = OAuthClientProvider(
        f"{server.base_url}/mcp", metadata, storage, operator.redirect, operator.callback,
        client_metadata_url=document_url,
    )  # fmt: skip
    with anyio.fail_after(120):
        async with httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30, read=120)) as http:
            async with Client(streamable_http_client(f"{server.base_url}/mcp", http_client=http)) as client:
                result = await client.call_tool("list_transcripts", {})
    assert operator.consent_status == 303
    assert storage.client is not None and storage.client.client_id == document_url  # no DCR
    assert storage.tokens is not None and storage.tokens.access_token.startswith("aai1.")
    assert not result.is_error, result
    assert "good.json" in documents.seen


async def test_a_served_refusal_names_its_reason(server: ServerProcess, documents: DocumentServer) -> None:
    port = documents.base_url.rsplit(":", 1)[1]
    before = list(documents.seen)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        outside = await authorize(http, f"https://localhost:{port}/good.json", new_pkce())
        wrong_id = await authorize(http, documents.url("other-id.json"), new_pkce())
    assert outside.status_code == 400 and outside.json()["error"] == "invalid_request"
    assert "internal address" in outside.json()["error_description"]
    assert wrong_id.status_code == 400 and wrong_id.json()["error"] == "invalid_request"
    assert "not exactly the URL" in wrong_id.json()["error_description"]
    assert documents.seen == [*before, "other-id.json"]  # localhost was never contacted
