"""The call path's upstream transport: aiohttp beneath the httpx API, with httpcore's error types."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aai_mcp.config.settings import Settings
from aai_mcp.upstream.aiohttp_transport import AiohttpUpstreamTransport, fast_transport_factory, mapped
from aai_mcp.upstream.client import Upstream
from aai_mcp.upstream.errors import ErrorKind, UpstreamError
from tests.support import make_settings
from tests.support.servers import free_port, serve_app_in_thread

pytestmark = pytest.mark.anyio

CONNECTION_KEY = aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        (aiohttp.ConnectionTimeoutError("connect"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout),
        (TimeoutError(), httpx.ReadTimeout),
        (aiohttp.ClientConnectorError(CONNECTION_KEY, ConnectionRefusedError(111, "no")), httpx.ConnectError),
        (aiohttp.ServerDisconnectedError(), httpx.ReadError),
        (aiohttp.ClientPayloadError("cut"), httpx.ReadError),
        (ConnectionResetError(104, "reset"), httpx.ReadError),
    ],
)
def test_aiohttp_errors_map_to_the_types_httpcore_raises(origin: BaseException, expected: type) -> None:
    assert type(mapped(origin)) is expected
    # httpx-aiohttp's own mapping (refused -> ConnectTimeout) is mapped again from its cause.
    wrapped = httpx.ConnectTimeout("wrong")
    wrapped.__cause__ = origin
    assert type(mapped(wrapped)) is expected


def test_an_unrelated_error_is_not_mapped() -> None:
    assert mapped(ValueError("bug")) is None


def test_aiohttp_is_the_default_unless_a_proxy_is_set_or_httpx_is_asked_for() -> None:
    assert fast_transport_factory(wanted=True, proxied=False) is not None
    assert fast_transport_factory(wanted=True, proxied=True) is None
    assert fast_transport_factory(wanted=False, proxied=False) is None
    default = make_settings(upstream_transport="aiohttp")
    assert type(Upstream(default)._json_clients["api"]._transport) is AiohttpUpstreamTransport
    assert Settings.model_fields["upstream_transport"].default == "aiohttp"
    plain = Upstream(make_settings(upstream_transport="httpx"))
    assert plain._json_clients["api"] is plain._clients["api"]


def test_a_proxy_in_the_environment_keeps_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    upstream = Upstream(make_settings(upstream_transport="aiohttp"))
    assert upstream._json_clients["api"] is upstream._clients["api"]


def _app(hang: asyncio.Event) -> Starlette:
    async def transcript(request: Request) -> Response:
        seen = {"auth": request.headers.get("authorization"), "path": request.url.path}
        return JSONResponse({"id": request.path_params["tid"], "status": "completed", "seen": seen})

    async def created(request: Request) -> Response:
        return JSONResponse({"echo": await request.json()}, status_code=200)

    async def stuck(request: Request) -> Response:
        await hang.wait()  # never set: the client's read timeout decides
        return Response()

    async def broken(request: Request) -> Response:
        return JSONResponse({"error": "Transcript not found"}, status_code=404)

    routes = [
        Route("/v2/transcript/{tid}", transcript),
        Route("/v2/transcript", created, methods=["POST"]),
        Route("/v2/stuck", stuck, methods=["GET", "POST"]),
        Route("/v2/missing", broken),
    ]
    return Starlette(routes=routes)


@pytest.fixture
def loopback() -> Iterator[str]:
    with serve_app_in_thread(_app(asyncio.Event())) as url:
        yield url


def _upstream(url: str, **overrides: Any) -> Upstream:
    values: dict[str, Any] = {"upstream_transport": "aiohttp", "api_base_url": url, "get_retries": 0}
    return Upstream(make_settings(**{**values, **overrides}))


@pytest.mark.slow
async def test_json_calls_go_over_aiohttp_with_the_key_and_body(loopback: str) -> None:
    async with _upstream(loopback) as upstream:
        assert isinstance(upstream._json_clients["api"]._transport, AiohttpUpstreamTransport)
        got = (await upstream.request("api", "GET", "/v2/transcript/t1")).json()
        posted = (await upstream.request("api", "POST", "/v2/transcript", json_body={"a": [1, "é"]})).json()
    assert got["id"] == "t1" and got["seen"]["path"] == "/v2/transcript/t1"
    assert got["seen"]["auth"] == upstream.settings.api_key_value()
    assert posted == {"echo": {"a": [1, "é"]}}


async def test_the_aiohttp_session_is_made_at_the_first_request(loopback: str) -> None:
    never_used = AiohttpUpstreamTransport(httpx.create_ssl_context(), httpx.Limits())
    await never_used.aclose()  # nothing to close, and no aiohttp session made to close it
    assert never_used._inner is None
    used = AiohttpUpstreamTransport(httpx.create_ssl_context(), httpx.Limits())
    async with httpx.AsyncClient(transport=used, base_url=loopback) as client:
        first = (await client.get("/v2/transcript/t1")).json()
        inner = used._inner
        second = (await client.get("/v2/transcript/t2")).json()
        assert inner is not None and used._inner is inner  # one session, kept for every request
    assert (first["id"], second["id"]) == ("t1", "t2")


@pytest.mark.slow
async def test_an_encoded_dot_in_a_path_reaches_upstream_as_sent(loopback: str) -> None:
    """path_segment encodes dots so that no id can climb out of its path (`..`); aiohttp's URL parser
    would decode and resolve them, so such a GET goes over httpcore, which keeps them."""
    async with _upstream(loopback) as upstream:
        got = (await upstream.request("api", "GET", "/v2/transcript/%2E%2E")).json()
    assert got["id"] == ".." and got["seen"]["path"] == "/v2/transcript/.."


class _NotForWrites:
    async def request(self, method: str, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{method} went over aiohttp, which may send it twice")


@pytest.mark.slow
async def test_only_gets_take_the_aiohttp_path(loopback: str) -> None:
    """aiohttp re-sends DELETE and PUT by itself after a dropped keep-alive connection: only a GET,
    which may be sent twice, goes that way."""
    async with _upstream(loopback) as upstream:
        fast = upstream._json_clients
        upstream._json_clients = {host: _NotForWrites() for host in fast}  # type: ignore[misc]
        posted = (await upstream.request("api", "POST", "/v2/transcript", json_body={"a": 1})).json()
        upstream._json_clients = fast
        got = (await upstream.request("api", "GET", "/v2/transcript/t1")).json()
    assert posted == {"echo": {"a": 1}} and got["id"] == "t1"


@pytest.mark.slow
async def test_upstream_errors_read_the_same_over_aiohttp(loopback: str) -> None:
    async with _upstream(loopback) as upstream:
        with pytest.raises(UpstreamError) as missing:
            await upstream.request("api", "GET", "/v2/missing")
    assert missing.value.status == 404 and "Transcript not found" in missing.value.message


@pytest.mark.slow
async def test_a_refused_connection_could_not_be_reached() -> None:
    async with _upstream(f"http://127.0.0.1:{free_port()}") as upstream:
        with pytest.raises(UpstreamError) as refused:
            await upstream.request("api", "POST", "/v2/transcript", json_body={})
    assert refused.value.kind is ErrorKind.CONNECTION_ERROR
    assert "could not be reached" in refused.value.message and not refused.value.outcome_unknown


@pytest.mark.slow
async def test_a_read_timeout_after_sending_leaves_a_post_outcome_unknown(loopback: str) -> None:
    async with _upstream(loopback, timeout_seconds=0.5) as upstream:
        with pytest.raises(UpstreamError) as timed_out:
            await upstream.request("api", "POST", "/v2/stuck", json_body={})
    assert timed_out.value.kind is ErrorKind.TIMEOUT and timed_out.value.outcome_unknown
