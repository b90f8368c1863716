"""The rules of Client ID Metadata Documents without a network: which client_id URLs are fetched at
all, what a document may say, how long one is cached, and that a refused host costs no connection."""

from __future__ import annotations

import json
import time

import anyio
import httpcore
import httpx
import pytest
from anyio.lowlevel import checkpoint
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import AnyUrl

from aai_mcp.access.client_metadata_documents import (
    CACHE_SECONDS,
    FETCHES_AT_ONCE,
    DocumentRefused,
    MetadataDocuments,
    checked_client_id_url,
    fetch_limits,
    is_document_client_id,
    max_age,
    parsed_document,
)
from aai_mcp.access.oauth_provider import (
    REFUSED_METHOD,
    LoopbackClient,
    OAuthConfig,
    RefusedClient,
    StoreProvider,
)
from aai_mcp.config.settings import Settings
from aai_mcp.transports.oauth_routes import client_metadata_documents

URL = "https://app.example.com/oauth/client.json"
REDIRECT = "http://127.0.0.1:3000/callback"


def body(**fields: object) -> bytes:
    return json.dumps({"client_id": URL, "redirect_uris": [REDIRECT], "client_name": "App"} | fields).encode()


def test_only_urls_name_documents() -> None:
    assert is_document_client_id(URL) and is_document_client_id("HTTP://x.example/c")
    assert not is_document_client_id("5b3c8d2e-uuid-from-dcr")


@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        ("http://app.example.com/client.json", "must be https"),
        ("https://app.example.com/", "has a path"),
        ("https://app.example.com", "has a path"),
        ("https://app.example.com/a/../client.json", "without '.' or '..'"),
        ("https://user:pw@app.example.com/client.json", "no credentials or fragment"),
        ("https://app.example.com/client.json#frag", "no credentials or fragment"),
        ("https://app.example.com/" + "c" * 200, "at most 200 characters"),
    ],
)
def test_client_id_urls_follow_the_drafts_rules(client_id: str, reason: str) -> None:
    with pytest.raises(DocumentRefused, match=reason):
        checked_client_id_url(client_id)


def test_a_good_document_becomes_a_public_client() -> None:
    info = parsed_document(body(), URL)
    assert info.client_id == URL and info.client_name == "App"
    assert info.token_endpoint_auth_method == "none" and info.client_secret is None


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (body(client_id=URL + "?other"), "not exactly the URL"),
        (body(client_secret="s"), "client secret"),
        (body(token_endpoint_auth_method="client_secret_basic"), "client secret"),
        (body(token_endpoint_auth_method="private_key_jwt"), "private_key_jwt is not supported"),
        (body(token_endpoint_auth_method="tls_client_auth"), "must be none"),
        (body(redirect_uris="http://127.0.0.1/cb"), "no redirect_uris"),
        (body(redirect_uris=["not a url"]), "invalid fields: redirect_uris"),
    ],
)
def test_documents_break_the_rules_in_many_ways(document: bytes, reason: str) -> None:
    with pytest.raises(DocumentRefused, match=reason):
        parsed_document(document, URL)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("max-age=600", 600.0), ("public, max-age=60", 60.0), ("no-store", 0.0), ("private", None), ("", None)],
)
def test_cache_control_is_read(header: str, seconds: float | None) -> None:
    assert max_age(httpx.Headers({"cache-control": header})) == seconds


class NoDialling(httpcore.AsyncNetworkBackend):
    """Fails the test if anything is dialled."""

    async def connect_tcp(self, *args: object, **kwargs: object) -> httpcore.AsyncNetworkStream:
        raise AssertionError("a refused host was dialled")


@pytest.mark.anyio
async def test_a_private_host_is_refused_before_anything_is_dialled() -> None:
    documents = MetadataDocuments(fetch_limits((), 5.0), dialer=NoDialling)
    with pytest.raises(DocumentRefused, match="internal address"):
        await documents.client("https://127.0.0.1:8443/client.json")


def test_cached_documents_live_within_bounds() -> None:
    documents = MetadataDocuments(fetch_limits(["[::1]", "Intranet.Example"], 5.0))
    assert documents.limits.private_hosts == {"::1", "intranet.example"}
    info = OAuthClientInformationFull(client_id=URL)
    now = time.monotonic()
    for seen, expected in ((0.0, CACHE_SECONDS[0]), (10**9, CACHE_SECONDS[1]), (600.0, 600.0)):
        documents._remember(URL, info, seen)
        assert documents.cached[URL][0] - now == pytest.approx(expected, abs=5)


def test_the_settings_choose_the_allowance_and_deadline() -> None:
    settings = Settings(
        oauth_client_metadata_private_hosts="127.0.0.1, intranet", oauth_client_metadata_timeout_seconds=2
    )
    documents = client_metadata_documents(settings)
    assert documents.limits.private_hosts == {"127.0.0.1", "intranet"}
    assert documents.limits.timeout_seconds == 2


@pytest.mark.anyio
async def test_the_provider_answers_with_the_document_or_a_refusal() -> None:
    class Fixed(MetadataDocuments):
        async def client(self, client_id: str) -> OAuthClientInformationFull:
            if client_id.endswith("bad.json"):
                raise DocumentRefused("it was bad")
            return parsed_document(body(), URL)

    config = OAuthConfig("https://gw.example/mcp", "https://gw.example", ("transcripts",), b"s" * 32)
    provider = StoreProvider(None, config, Fixed(fetch_limits((), 5.0)))  # type: ignore[arg-type]
    good = await provider.get_client(URL)
    assert isinstance(good, LoopbackClient) and good.client_name == "App"
    assert good.validate_scope("mcp toolset:transcripts") == ["mcp", "toolset:transcripts"]
    assert str(good.validate_redirect_uri(AnyUrl("http://127.0.0.1:4567/callback"))).endswith(
        ":4567/callback"
    )
    bad = await provider.get_client("https://app.example.com/bad.json")
    assert isinstance(bad, RefusedClient) and bad.refusal == "it was bad"
    assert bad.client_secret is None and bad.token_endpoint_auth_method == REFUSED_METHOD


@pytest.mark.anyio
async def test_fetches_wait_their_turn_beyond_the_cap() -> None:
    running, most = 0, 0
    release = anyio.Event()

    class Counting(MetadataDocuments):
        async def _get(self, url: httpx.URL) -> tuple[bytes, float | None]:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await release.wait()
            running -= 1
            return body(client_id=str(url)), None

    documents = Counting(fetch_limits((), 60.0))
    async with anyio.create_task_group() as tasks:
        for n in range(FETCHES_AT_ONCE + 4):
            tasks.start_soon(documents.client, f"https://app{n}.example.com/client.json")
        for _ in range(50):  # let every task run up to where it waits (no time passes)
            await checkpoint()
        assert running == FETCHES_AT_ONCE
        release.set()
    assert most == FETCHES_AT_ONCE and len(documents.cached) == FETCHES_AT_ONCE + 4
