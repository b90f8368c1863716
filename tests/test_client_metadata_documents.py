"""Client ID Metadata Documents (issue 15 part 2) through the gateway's HTTP app in process: the
server fetches the document from a loopback https server (allowed by
oauth_client_metadata_private_hosts, trusted through SSL_CERT_FILE), advertises the support, shows the
document's name and host on the consent page and issues a token; every refused document gets its
OAuth error with the reason, and a host outside the allowance is never contacted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from aai_mcp.state.store_sql import SqlStore, open_store
from tests.support import CANARY_KEY
from tests.support.metadata_documents import CLIENT_NAME, DocumentServer, document_server
from tests.support.oauth_app import oauth_served
from tests.support.oauth_flow import (
    authorize,
    code_for,
    exchange,
    new_pkce,
)

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

ORIGIN = "http://127.0.0.1:8000"
SECRET = "cimd-http-secret-0123456789abcdef"
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
CLIENT_INFO = {"name": "t", "version": "1"}
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": CLIENT_INFO},
}  # fmt: skip


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    with document_server(tmp_path_factory.mktemp("cimd")) as server:
        yield server


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    store = open_store(tmp_path / "data", None, {}, auto_upgrade=True)
    try:
        yield store
    finally:
        store.close()


async def gateway_client(
    store: SqlStore, documents: DocumentServer, monkeypatch: pytest.MonkeyPatch, timeout: float = 30.0
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("SSL_CERT_FILE", str(documents.cert.cert))
    async with oauth_served(
        store, SECRET, oauth_client_metadata_private_hosts=["127.0.0.1"],
        oauth_client_metadata_timeout_seconds=timeout,
    ) as app:  # fmt: skip
        yield app.http


@pytest.fixture
async def http(
    sqlite_store: SqlStore, documents: DocumentServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in gateway_client(sqlite_store, documents, monkeypatch):
        yield client


async def test_the_server_advertises_metadata_documents(http: httpx.AsyncClient) -> None:
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["client_id_metadata_document_supported"] is True
    assert "none" in metadata["token_endpoint_auth_methods_supported"]
    assert metadata["registration_endpoint"] == ORIGIN + "/register"  # DCR stays on


async def test_a_document_client_consents_and_gets_a_token(
    http: httpx.AsyncClient, documents: DocumentServer
) -> None:
    client_id = documents.url("good.json")
    before = documents.seen.count("good.json")
    started = await authorize(http, client_id, new_pkce())
    assert started.status_code == 302, started.text
    page = await http.get(started.headers["location"])
    assert CLIENT_NAME in page.text and "127.0.0.1:3000" in page.text  # its name, its redirect host
    host = documents.base_url.removeprefix("https://")
    assert f"identified by its URL host <strong>{host}</strong>" in page.text
    pkce = new_pkce()
    code = await code_for(http, client_id, pkce)
    issued = await exchange(http, client_id, code, pkce.verifier)
    assert issued.status_code == 200, issued.text
    session = await http.post(
        "/mcp", json=INIT, headers={**MCP_HEADERS, "authorization": f"Bearer {issued.json()['access_token']}"}
    )
    assert session.status_code == 200, session.text
    # Two authorizations, a consent page each and a token: one fetch (Cache-Control max-age=600).
    assert documents.seen.count("good.json") - before == 1
    assert not any(CANARY_KEY in str(sent) for sent in documents.headers)
    assert documents.headers[-1]["accept"] == "application/json"


async def test_a_redirect_uri_not_in_the_document_is_refused_on_the_spot(
    http: httpx.AsyncClient, documents: DocumentServer
) -> None:
    elsewhere = await authorize(
        http, documents.url("good.json"), new_pkce(), redirect_uri="https://evil.test/callback"
    )
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers
    assert elsewhere.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("other-id.json", "client_id is not exactly the URL"),
        ("large.json", "larger than 5120 bytes"),
        ("missing.json", "answered HTTP 404"),
        ("moved.json", "redirects are not followed"),
        ("as-text.json", "not served as application/json"),
        ("secret.json", "cannot carry or use a client secret"),
        ("key-jwt.json", "private_key_jwt is not supported"),
        ("no-redirects.json", "lists no redirect_uris"),
        ("web-redirect.json", "https, or http on a loopback address"),
    ],
)
async def test_a_refused_document_gets_invalid_request_with_the_reason(
    http: httpx.AsyncClient, documents: DocumentServer, name: str, reason: str
) -> None:
    refused = await authorize(http, documents.url(name), new_pkce())
    assert refused.status_code == 400 and "location" not in refused.headers, refused.text
    body = refused.json()
    assert body["error"] == "invalid_request" and reason in body["error_description"], body
    assert body["error_description"].startswith("client metadata document refused: ")


async def test_a_refused_document_client_cannot_use_the_token_endpoint(
    http: httpx.AsyncClient, documents: DocumentServer
) -> None:
    refused = await exchange(http, documents.url("other-id.json"), "some-code", new_pkce().verifier)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert "client_metadata_document_refused" in refused.json()["error_description"]


async def test_a_host_outside_the_allowance_is_never_contacted(
    http: httpx.AsyncClient, documents: DocumentServer
) -> None:
    # The same loopback server under a name the allowance does not list: refused before any request.
    port = documents.base_url.rsplit(":", 1)[1]
    before = list(documents.seen)
    refused = await authorize(http, f"https://localhost:{port}/good.json", new_pkce())
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    assert "private, loopback, link-local" in refused.json()["error_description"]
    assert documents.seen == before


async def test_an_http_client_id_url_is_refused_without_a_fetch(
    http: httpx.AsyncClient, documents: DocumentServer
) -> None:
    before = list(documents.seen)
    plain = documents.url("good.json").replace("https://", "http://")
    refused = await authorize(http, plain, new_pkce())
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    assert "must be https" in refused.json()["error_description"]
    assert documents.seen == before


async def test_a_document_that_does_not_arrive_in_time_is_refused(
    sqlite_store: SqlStore, documents: DocumentServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async for http in gateway_client(sqlite_store, documents, monkeypatch, timeout=1.0):
        refused = await authorize(http, documents.url("hanging.json"), new_pkce())
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
        assert "did not arrive within 1 s" in refused.json()["error_description"]
    assert "hanging.json" in documents.seen  # it was asked, and gave up on
