"""A transcript list's page_details links through the team proxy: upstream's absolute prev_url and
next_url become the proxy's own URL for the same path and query (an SDK pages by fetching them as
they are, with the team token); every other answer is relayed byte for byte, as is a list answer
too big to read whole. Upstream is an in-memory transport; both the single-key and the pool path."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from aai_mcp.access import Scopes, mint
from aai_mcp.gateway import Gateway
from aai_mcp.proxy import whole_answers
from aai_mcp.proxy.list_pages import rewritten_page
from aai_mcp.state.store_sql import open_store
from aai_mcp.transports.http import build_http_app
from tests.support.proxy_harness import PROXY, SECRET, proxy_gateway
from tests.support.servers import serve_gateway_in_thread
from tests.support.two_accounts import KEY_A, KEY_B

pytestmark = pytest.mark.anyio
TOKEN = mint(SECRET.encode(), name="pages", scopes=Scopes(proxy=True), expires_at=None, account="team").token
AUTH = {"authorization": TOKEN}
Build = Callable[["Upstream"], Gateway]
UPSTREAM = "https://api.assemblyai.com"
PUBLIC = "https://127.0.0.1:8000"
OLDER = "/v2/transcript?limit=1&status=completed&before_id=t-2"
NEWER = "/v2/transcript?limit=1&after_id=t-1"


def list_page(prev: str | None, following: str | None) -> bytes:
    details = {"limit": 1, "result_count": 1, "current_url": f"{UPSTREAM}/v2/transcript?limit=1"}
    document = {"page_details": {**details, "prev_url": prev, "next_url": following}, "transcripts": []}
    return json.dumps(document, separators=(",", ":")).encode()


class Upstream:
    """Answers every request with one body, sent in `chunks` pieces (never read ahead by httpx)."""

    def __init__(self, body: bytes, headers: dict[str, str], status: int = 200, chunks: int = 1) -> None:
        self.body, self.headers, self.status, self.chunks = body, headers, status, chunks
        self.paths: list[str] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.raw_path.decode())
        return httpx.Response(self.status, headers=self.headers, content=self._pieces())

    async def _pieces(self) -> AsyncIterator[bytes]:
        size = -(-len(self.body) // self.chunks)
        for start in range(0, len(self.body), size):
            yield self.body[start : start + size]


@pytest.fixture(params=["single_key", "pool"])
def gateway_for(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Build]:
    """Builds the gateway on an upstream, on the single-key path or the two-key pool."""
    stores = []

    def build(upstream: Upstream) -> Gateway:
        monkeypatch.setenv("POOL_KEY_A", KEY_A)
        monkeypatch.setenv("POOL_KEY_B", KEY_B)
        if request.param == "single_key":
            return proxy_gateway(upstream.transport(), accounts=["team=env:POOL_KEY_A"])
        gateway = proxy_gateway(upstream.transport(), accounts=["team=env:POOL_KEY_A", "team=env:POOL_KEY_B"])
        stores.append(open_store(tmp_path / "data", None, os.environ, auto_upgrade=True))
        gateway.use_store(stores[-1])
        return gateway

    yield build
    for store in stores:
        store.close()


async def raw_get(gateway: Gateway, path: str) -> tuple[httpx.Response, bytes]:
    """The answer and its body bytes exactly as the proxy sent them (no decoding by the client)."""
    transport = httpx.ASGITransport(app=build_http_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
        async with client.stream("GET", PROXY + path, headers=AUTH) as answer:
            return answer, b"".join([chunk async for chunk in answer.aiter_raw()])


async def test_a_gzip_list_answer_gets_the_proxys_page_links_decoded(gateway_for: Build) -> None:
    body = list_page(UPSTREAM + OLDER, UPSTREAM + NEWER)
    upstream = Upstream(gzip.compress(body), {"content-type": "application/json", "content-encoding": "gzip"})
    answer, sent = await raw_get(gateway_for(upstream), "/v2/transcript?limit=1")
    assert answer.status_code == 200 and upstream.paths == ["/v2/transcript?limit=1"], sent
    assert "content-encoding" not in answer.headers
    assert answer.headers["content-length"] == str(len(sent))
    assert answer.headers["content-type"] == "application/json"
    expected = json.loads(body)
    expected["page_details"] |= {"prev_url": PUBLIC + PROXY + OLDER, "next_url": PUBLIC + PROXY + NEWER}
    assert json.loads(sent) == expected  # current_url and the rest as upstream sent them


async def test_a_null_prev_url_stays_null(gateway_for: Build) -> None:
    upstream = Upstream(list_page(None, UPSTREAM + NEWER), {"content-type": "application/json"}, chunks=3)
    _, sent = await raw_get(gateway_for(upstream), "/v2/transcript")
    details = json.loads(sent)["page_details"]
    assert details["prev_url"] is None and details["next_url"] == PUBLIC + PROXY + NEWER


async def test_a_list_answer_without_links_is_relayed_byte_for_byte(gateway_for: Build) -> None:
    body = gzip.compress(list_page(None, None))
    upstream = Upstream(body, {"content-type": "application/json", "content-encoding": "gzip"})
    answer, sent = await raw_get(gateway_for(upstream), "/v2/transcript")
    assert (answer.headers["content-encoding"], sent) == ("gzip", body)


NOT_LISTS = [(200, "/v2/transcript/t-1"), (200, "/v2/transcript/t-1/sentences"), (400, "/v2/transcript")]


@pytest.mark.parametrize(("status", "path"), NOT_LISTS)
async def test_other_answers_are_relayed_byte_for_byte(gateway_for: Build, status: int, path: str) -> None:
    """Not a successful list answer (a transcript, an export, an error): nothing is rewritten, even
    where the body holds the same keys."""
    body = gzip.compress(list_page(UPSTREAM + OLDER, UPSTREAM + NEWER))
    upstream = Upstream(body, {"content-type": "application/json", "content-encoding": "gzip"}, status)
    answer, sent = await raw_get(gateway_for(upstream), path)
    assert answer.status_code == status
    assert (answer.headers["content-encoding"], sent) == ("gzip", body)


@pytest.mark.parametrize("declared", [True, False], ids=["content_length", "chunked"])
async def test_a_list_answer_over_the_bound_is_relayed_untouched(
    gateway_for: Build, monkeypatch: pytest.MonkeyPatch, declared: bool
) -> None:
    """Declared too long, it is not read at all; undeclared, reading stops at the bound and what was
    read goes out first, then the rest."""
    body = list_page(UPSTREAM + OLDER, UPSTREAM + NEWER)
    monkeypatch.setattr(whole_answers, "MAX_READ_ANSWER", len(body) // 2)
    headers = {"content-type": "application/json"} | ({"content-length": str(len(body))} if declared else {})
    upstream = Upstream(body, headers, chunks=4)
    answer, sent = await raw_get(gateway_for(upstream), "/v2/transcript")
    assert answer.status_code == 200 and sent == body


async def test_a_list_answer_that_does_not_decode_is_relayed_untouched(gateway_for: Build) -> None:
    body = b"not gzip at all"
    upstream = Upstream(body, {"content-type": "application/json", "content-encoding": "gzip"})
    answer, sent = await raw_get(gateway_for(upstream), "/v2/transcript")
    assert (answer.headers["content-encoding"], sent) == ("gzip", body)


def test_an_api_base_url_with_a_path_loses_it_on_the_proxy() -> None:
    """Upstream behind a prefix (AAI_MCP_API_BASE_URL=https://corp.example/aai): the proxy's path is
    the API path, without the prefix."""
    body = list_page("https://corp.example/aai" + OLDER, None)
    rewritten = rewritten_page(body, public_base=PUBLIC + PROXY, upstream_prefix="/aai")
    assert rewritten is not None
    assert json.loads(rewritten)["page_details"]["prev_url"] == PUBLIC + PROXY + OLDER


@pytest.mark.slow
def test_links_follow_the_scheme_uvicorn_presents(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behind a TLS-terminating proxy on loopback (uvicorn trusts 127.0.0.1's X-Forwarded-Proto by
    default), the links are https:// on the Host the caller used, over a real socket."""
    monkeypatch.setenv("POOL_KEY_A", KEY_A)
    upstream = Upstream(list_page(UPSTREAM + OLDER, None), {"content-type": "application/json"})
    gateway = proxy_gateway(upstream.transport(), accounts=["team=env:POOL_KEY_A"])
    with serve_gateway_in_thread(gateway) as base_url:
        headers = {**AUTH, "x-forwarded-proto": "https"}
        answer = httpx.get(f"{base_url}{PROXY}/v2/transcript", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    host = base_url.removeprefix("http://")
    assert answer.json()["page_details"]["prev_url"] == f"https://{host}{PROXY}{OLDER}"
