"""The proxy forwards each host's calls byte for byte, with the server's key in place of the token."""

from __future__ import annotations

import httpx
import pytest
import respx

from aai_mcp.access import HEADER_NAME, Scopes, mint
from tests.support import CANARY_KEY
from tests.support.proxy_harness import (
    PROXY,
    SECRET,
    RecordingUpstream,
    proxy_client,
    proxy_gateway,
    proxy_token,
)
from tests.support.servers import serve_gateway_in_thread

pytestmark = pytest.mark.anyio

# (proxy path, upstream URL, the Authorization form that host takes)
HOSTS = [
    (
        "/v2/transcript?status=completed&limit=3",
        "https://api.assemblyai.com/v2/transcript?status=completed&limit=3",
        CANARY_KEY,
    ),
    (
        "/v3/token?expires_in_seconds=60",
        "https://streaming.assemblyai.com/v3/token?expires_in_seconds=60",
        CANARY_KEY,
    ),
    (
        "/llm-gateway/v1/chat/completions",
        "https://llm-gateway.assemblyai.com/v1/chat/completions",
        CANARY_KEY,
    ),
    (
        "/agents/v1/token?expires_in_seconds=60",
        "https://agents.assemblyai.com/v1/token?expires_in_seconds=60",
        f"Bearer {CANARY_KEY}",
    ),
]


@pytest.mark.parametrize(("path", "url", "authorization"), HOSTS)
async def test_each_host_gets_the_call_byte_for_byte(path: str, url: str, authorization: str) -> None:
    upstream = RecordingUpstream()
    upstream.status = 201
    upstream.headers = [(b"content-type", b"text/odd; x=1"), (b"x-upstream", b"a"), (b"x-upstream", b"b")]
    upstream.body = b"\x00raw \xff answer"
    method = "POST" if "llm-gateway" in path else "GET"
    token = proxy_token()
    async with proxy_client(proxy_gateway(upstream)) as client:
        content = b'{"model": "x",  "odd spacing": 1}' if method == "POST" else None
        response = await client.request(
            method,
            PROXY + path,
            content=content,
            headers=[("Authorization", token), ("X-Caller", "1"), ("X-Caller", "2"), ("Content-Type", "a/b")],
        )
    assert response.status_code == 201
    assert response.content == b"\x00raw \xff answer"
    assert response.headers.get_list("x-upstream") == ["a", "b"]
    assert response.headers["content-type"] == "text/odd; x=1"
    assert CANARY_KEY not in repr(response.headers.raw) + response.text
    (seen,) = upstream.seen
    assert str(seen.request.url) == url
    assert seen.request.method == method
    assert seen.request.headers["authorization"] == authorization
    assert seen.request.headers.get_list("x-caller") == ["1", "2"]
    assert seen.request.headers["content-type"] == "a/b"
    assert seen.body == (content or b"")
    if content is not None:  # the caller's framing, not re-chunked
        assert seen.request.headers["content-length"] == str(len(content))
        assert "transfer-encoding" not in seen.request.headers
    assert token not in repr(seen.request.headers.raw) and token not in seen.body.decode("latin-1")


async def test_hop_by_hop_headers_are_dropped_both_ways() -> None:
    upstream = RecordingUpstream()
    upstream.headers = [
        (b"connection", b"x-private"),
        (b"x-private", b"1"),
        (b"keep-alive", b"timeout=5"),
        (b"proxy-authenticate", b"Basic"),
        (b"trailer", b"x-t"),
        (b"upgrade", b"h2c"),
        (b"x-kept", b"yes"),
    ]
    async with proxy_client(proxy_gateway(upstream)) as client:
        response = await client.get(
            PROXY + "/v2/transcript/abc",
            headers={
                "Authorization": proxy_token(),
                "Connection": "x-mine, keep-alive",
                "X-Mine": "1",
                "Keep-Alive": "timeout=5",
                "Proxy-Authorization": "Basic Zm9v",
                "TE": "trailers",
                "Upgrade": "h2c",
                "X-Kept": "yes",
            },
        )
    assert response.status_code == 200
    assert response.headers["x-kept"] == "yes"
    for name in ("x-private", "keep-alive", "proxy-authenticate", "trailer", "upgrade"):
        assert name not in response.headers
    sent = upstream.seen[0].request.headers
    assert sent["x-kept"] == "yes"
    assert sent["host"] == "api.assemblyai.com"
    for name in ("x-mine", "keep-alive", "proxy-authorization", "te", "upgrade"):
        assert name not in sent


@pytest.mark.slow
def test_a_real_server_sends_one_date_and_one_server_header() -> None:
    upstream = RecordingUpstream()
    upstream.headers = [(b"date", b"Mon, 01 Jan 2024 00:00:00 GMT"), (b"server", b"upstream")]
    with serve_gateway_in_thread(proxy_gateway(upstream)) as url:
        response = httpx.get(url + PROXY + "/v2/transcript", headers={"Authorization": proxy_token()})
    assert response.status_code == 200
    assert len(response.headers.get_list("date")) == 1
    assert response.headers.get_list("server") == ["uvicorn"]


async def test_upstream_statuses_pass_through_with_normalized_rate_limits() -> None:
    upstream = RecordingUpstream()
    upstream.status = 429
    upstream.headers = [(b"retry-after", b"7"), (b"content-type", b"application/json")]
    upstream.body = b'{"error": "Too many requests"}'
    async with proxy_client(proxy_gateway(upstream)) as client:
        response = await client.get(PROXY + "/v2/transcript", headers={"Authorization": proxy_token()})
    assert response.status_code == 429
    assert response.content == b'{"error": "Too many requests"}'
    assert response.headers["retry-after"] == "7"
    assert response.headers["ratelimit-reset"] == "7"


async def test_unreachable_upstream_is_a_502_in_the_error_shape() -> None:
    upstream = RecordingUpstream()
    upstream.error = httpx.ConnectError(f"refused, key {CANARY_KEY}")
    async with proxy_client(proxy_gateway(upstream)) as client:
        response = await client.get(PROXY + "/v2/transcript/abc", headers={"Authorization": proxy_token()})
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_unreachable"
    assert CANARY_KEY not in response.text


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/v2/transcript/abc", "https://api.eu.assemblyai.com/v2/transcript/abc"),
        ("/v3/token", "https://streaming.eu.assemblyai.com/v3/token"),
        ("/llm-gateway/v1/understanding", "https://llm-gateway.eu.assemblyai.com/v1/understanding"),
    ],
)
async def test_calls_go_to_the_configured_region(path: str, url: str) -> None:
    upstream = RecordingUpstream()
    method = "POST" if "llm-gateway" in path else "GET"
    async with proxy_client(proxy_gateway(upstream, region="eu")) as client:
        response = await client.request(method, PROXY + path, headers={"Authorization": proxy_token()})
    assert response.status_code == 200
    assert str(upstream.seen[0].request.url) == url


async def test_the_tokens_second_secret_is_checked_and_never_forwarded() -> None:
    upstream = RecordingUpstream()
    minted = mint(SECRET.encode(), name="p", scopes=Scopes(proxy=True), expires_at=None, require_header=True)
    assert minted.header_secret is not None
    async with proxy_client(proxy_gateway(upstream)) as client:
        without = await client.get(PROXY + "/v2/transcript", headers={"Authorization": minted.token})
        with_it = await client.get(
            PROXY + "/v2/transcript",
            headers={"Authorization": minted.token, HEADER_NAME: minted.header_secret},
        )
    assert without.status_code == 401
    assert with_it.status_code == 200
    assert len(upstream.seen) == 1
    assert HEADER_NAME.lower() not in upstream.seen[0].request.headers
    assert minted.header_secret not in repr(upstream.seen[0].request.headers.raw)


async def test_a_respx_mocked_upstream_answers_through_the_proxy() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("https://api.assemblyai.com/v2/upload").respond(
            200, json={"upload_url": "https://cdn.assemblyai.com/upload/u1"}
        )
        gateway = proxy_gateway(None)
        async with proxy_client(gateway) as client:
            response = await client.post(
                PROXY + "/v2/upload", content=b"audio bytes", headers={"Authorization": proxy_token()}
            )
    assert response.status_code == 200
    assert response.json() == {"upload_url": "https://cdn.assemblyai.com/upload/u1"}
    sent = route.calls.last.request
    assert sent.content == b"audio bytes"
    assert sent.headers["authorization"] == CANARY_KEY
