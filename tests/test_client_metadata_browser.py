"""A client identified by its metadata document, approved in a real browser (issue 15 part 6): the
mcp SDK's OAuthClientProvider with a client_metadata_url (the document served over https on
loopback) against `aai-mcp serve --auth oauth`; its authorize URL opened in Debian's chromium, where
the operator sees the document's client name and the host that vouches for it, narrows and approves;
chromium follows the redirect to the client's loopback callback (the document's loopback redirect,
any port: RFC 8252) and the client calls a tool. The page is kept under test-artifacts/consent/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl

from aai_mcp.access.operator_sign_in import hash_password
from tests.support.browser_consent import CHROMIUM, BrowserOperator, Choices, LoopbackSite, chromium_args
from tests.support.metadata_documents import CLIENT_NAME, DocumentServer, document_server
from tests.support.oauth_client import MemoryStorage, oauth_session
from tests.support.oauth_flow import PASSWORD
from tests.support.servers import ServerProcess, aai_mcp_command, clean_env, free_port, server_process

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

SECRET = "cimd-browser-secret-0123456789abcdef"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "consent"


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    with document_server(tmp_path_factory.mktemp("cimd-browser")) as server:
        yield server


@pytest.fixture(scope="module")
def server(documents: DocumentServer) -> Iterator[ServerProcess]:
    port = free_port()
    env = clean_env(
        AAI_MCP_TOKEN_SECRETS=SECRET,
        AAI_MCP_OAUTH_OPERATOR_PASSWORD_HASH=hash_password(PASSWORD),
        AAI_MCP_OAUTH_CLIENT_METADATA_PRIVATE_HOSTS="127.0.0.1",
        SSL_CERT_FILE=str(Path(documents.cert.cert)),
    )
    command = aai_mcp_command("serve", port, "--auth", "oauth", "--public-url", f"http://127.0.0.1:{port}")
    with server_process(command, port, env) as started:
        yield started


@pytest.fixture
async def site() -> AsyncIterator[LoopbackSite]:
    async with LoopbackSite.running() as loopback:
        yield loopback


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=chromium_args())
        yield launched
        await launched.close()


async def test_a_metadata_document_client_is_approved_in_chromium_and_calls_a_tool(
    server: ServerProcess, documents: DocumentServer, site: LoopbackSite, browser: Any
) -> None:
    page = await browser.new_page()
    shot = ARTIFACTS / "consent-metadata-document.png"
    operator = BrowserOperator(page, site, Choices(PASSWORD, untick_toolsets=("llm",)), {"desktop": shot})
    storage = MemoryStorage()
    metadata = OAuthClientMetadata(
        client_name="ignored: the document names the client", redirect_uris=[AnyUrl(site.callback_url)],
        grant_types=["authorization_code"], response_types=["code"], token_endpoint_auth_method="none",
    )  # fmt: skip
    document_url = documents.url("good.json")
    with anyio.fail_after(180):
        async with oauth_session(server.base_url, metadata, operator, storage, document_url) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            listed = await client.call_tool("list_transcripts", {})
    assert storage.client is not None and storage.client.client_id == document_url  # no DCR
    assert site.callbacks and site.callbacks[-1]["code"]  # chromium reached the loopback callback
    assert storage.tokens is not None and storage.tokens.scope is not None
    assert "toolset:llm" not in storage.tokens.scope.split()
    assert not listed.is_error, listed
    assert "list_transcripts" in tools and "ask_transcript" not in tools
    assert "good.json" in documents.seen
    assert shot.stat().st_size > 5_000
    # What the operator read: the document's name, and which host vouches for it.
    assert CLIENT_NAME in operator.shown and "ignored" not in operator.shown
    assert "identified by its URL host" in operator.shown and "127.0.0.1" in operator.shown
