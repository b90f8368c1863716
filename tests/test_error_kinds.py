"""Every error kind end to end: one way to cause it, and the result it gives (isError, no
structuredContent, `_meta["aai-mcp/error"]` with the kind and the kind's own `retryable`, and the
same facts in the text). The table must name every ErrorKind, so a new kind needs a row here."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from starlette.types import Receive, Scope, Send

from aai_mcp.access.principal import Principal
from aai_mcp.access.scopes import Scopes
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.handlers.handler_table import HANDLERS
from aai_mcp.mcp_server.views.contract import Shaped
from aai_mcp.mcp_server.views.view_table import VIEWS
from aai_mcp.state.store_sql import open_store
from aai_mcp.upstream.errors import KINDS, ErrorKind
from tests.support import error_details, make_settings
from tests.support.faults import CLIP, refusing_port, serve_app_in_thread
from tests.support.two_accounts import KEY_A, KEY_B

pytestmark = pytest.mark.anyio

TRANSCRIPT = {"transcript_id": "abc123"}
Answer = Callable[[httpx.Request], httpx.Response]


@asynccontextmanager
async def gateway_answering(answer: Answer | None = None, **settings: Any) -> AsyncIterator[Gateway]:
    """A gateway whose AssemblyAI is `answer` (the simulator when None)."""
    if answer is None:
        gateway = build_gateway(make_settings(api_key=None, get_retries=0, **settings))
    else:
        gateway = build_gateway(
            make_settings(get_retries=0, **settings), transport=httpx.MockTransport(answer)
        )
    try:
        yield gateway
    finally:
        await gateway.aclose()


async def upstream_says(answer: Answer, tool: str = "get_transcript", **args: Any) -> types.CallToolResult:
    async with gateway_answering(answer) as gateway:
        return await gateway.runner.call(tool, args or TRANSCRIPT)


def status(code: int, **headers: str) -> Answer:
    return lambda request: httpx.Response(code, json={"error": "no"}, headers=headers)


def raising(exc: Exception) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc

    return answer


def empty(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={})


def html(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, text="<html>maintenance</html>", headers={"content-type": "text/html"})


async def invalid_arguments() -> types.CallToolResult:
    return await upstream_says(status(200), transcript_id="not an id!")


async def forbidden() -> types.CallToolResult:
    scopes = Scopes(methods=frozenset({"transcription", "read"}))  # no upload
    async with gateway_answering() as gateway:
        return await gateway.runner.call(
            "transcribe", {"data_base64": CLIP}, principal=Principal("t", scopes)
        )


async def too_many_calls() -> types.CallToolResult:
    caller = Principal("t", Scopes())
    async with gateway_answering(status(200), max_concurrent_calls_per_token=1) as gateway:
        assert await gateway.runner.try_hold(caller) is not None  # the one place this token has is taken
        return await gateway.runner.call("get_transcript", TRANSCRIPT, principal=caller)


async def no_usable_key(monkeypatch: pytest.MonkeyPatch) -> types.CallToolResult:
    """A pooled account whose two keys both answer 429: the first call cools both, the next is
    refused without a call upstream, with the soonest Retry-After."""
    monkeypatch.setenv("POOL_KEY_A", KEY_A)
    monkeypatch.setenv("POOL_KEY_B", KEY_B)
    caller = Principal("t", Scopes(), account="team")
    pooled = ["team=env:POOL_KEY_A", "team=env:POOL_KEY_B"]
    with tempfile.TemporaryDirectory() as data:
        store = open_store(Path(data), None, {}, auto_upgrade=True)
        try:
            async with gateway_answering(status(429, **{"retry-after": "9"}), accounts=pooled) as gateway:
                gateway.use_store(store)
                await gateway.runner.call("get_transcript", {"transcript_id": "new"}, principal=caller)
                return await gateway.runner.call("get_transcript", TRANSCRIPT, principal=caller)
        finally:
            store.close()


class Hanging(httpx.AsyncBaseTransport):
    """An AssemblyAI that takes every request and never answers."""

    def __init__(self) -> None:
        self.reached = anyio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.reached.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def shutting_down() -> types.CallToolResult:
    hanging = Hanging()
    gateway = build_gateway(make_settings(get_retries=0), transport=hanging)
    results: list[types.CallToolResult] = []
    try:
        async with anyio.create_task_group() as group:

            async def call() -> None:
                results.append(await gateway.runner.call("get_transcript", TRANSCRIPT))

            group.start_soon(call)
            await hanging.reached.wait()
            gateway.runner.drain(0.0)  # no grace left: the call still running is stopped at once
    finally:
        await gateway.aclose()
    return results[0]


def source_answering(code: int) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": code, "headers": []})
        await send({"type": "http.response.body", "body": b"no"})

    return app


async def download(url: str, allow_private: bool = True) -> types.CallToolResult:
    async with gateway_answering(status(200), upload_allow_private_urls=allow_private) as gateway:
        return await gateway.runner.call("upload_file", {"url": url})


async def url_refused() -> types.CallToolResult:
    return await download("http://127.0.0.1:9/audio.wav", allow_private=False)  # loopback: SSRF guard


@contextmanager
def resolver_without_answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".example"):
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


async def dns_failed(monkeypatch: pytest.MonkeyPatch) -> types.CallToolResult:
    with resolver_without_answers(monkeypatch):
        return await download("http://media.example/audio.wav")


async def download_failed() -> types.CallToolResult:
    with refusing_port() as closed:  # connection refused at the source: may work later
        return await download(f"{closed}/audio.wav")


async def download_rejected() -> types.CallToolResult:
    with serve_app_in_thread(source_answering(404)) as source:
        return await download(f"{source}/audio.wav")


async def internal(monkeypatch: pytest.MonkeyPatch) -> types.CallToolResult:
    async def broken(call: Any) -> Any:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patch:
        patch.setitem(HANDLERS, "fetch", broken)
        return await upstream_says(status(200), "fetch", id="abc123")


async def timeout() -> types.CallToolResult:
    return await upstream_says(raising(httpx.ReadTimeout("slow")))


CASES: dict[ErrorKind, Callable[..., Awaitable[types.CallToolResult]]] = {
    ErrorKind.INVALID_ARGUMENTS: invalid_arguments,
    ErrorKind.FORBIDDEN: forbidden,
    ErrorKind.TOO_MANY_CALLS: too_many_calls,
    ErrorKind.SHUTTING_DOWN: shutting_down,
    ErrorKind.URL_REFUSED: url_refused,
    ErrorKind.DNS_FAILED: dns_failed,
    ErrorKind.DOWNLOAD_FAILED: download_failed,
    ErrorKind.DOWNLOAD_REJECTED: download_rejected,
    ErrorKind.RATE_LIMITED: lambda: upstream_says(status(429, **{"retry-after": "7"})),
    ErrorKind.NO_USABLE_KEY: no_usable_key,
    ErrorKind.UPSTREAM_REJECTED: lambda: upstream_says(status(404)),
    ErrorKind.UPSTREAM_UNAVAILABLE: lambda: upstream_says(status(503)),
    ErrorKind.TIMEOUT: timeout,
    ErrorKind.CONNECTION_ERROR: lambda: upstream_says(raising(httpx.ConnectError("refused"))),
    ErrorKind.BAD_RESPONSE: lambda: upstream_says(html),
    ErrorKind.INTERNAL: internal,
}
# What each kind's retryable value must be: stated here once more, so a change to the enum is a
# change a reviewer sees in this test too.
RETRYABLE = {
    ErrorKind.TOO_MANY_CALLS,
    ErrorKind.SHUTTING_DOWN,
    ErrorKind.DNS_FAILED,
    ErrorKind.DOWNLOAD_FAILED,
    ErrorKind.RATE_LIMITED,
    ErrorKind.NO_USABLE_KEY,
    ErrorKind.UPSTREAM_UNAVAILABLE,
    ErrorKind.TIMEOUT,
    ErrorKind.CONNECTION_ERROR,
    ErrorKind.BAD_RESPONSE,
}


def test_every_kind_has_a_case_and_a_meaning() -> None:
    assert set(CASES) == set(ErrorKind) == set(KINDS)
    assert {kind for kind in ErrorKind if kind.retryable} == RETRYABLE


@pytest.mark.parametrize("kind", list(ErrorKind), ids=str)
async def test_each_kind_end_to_end(kind: ErrorKind, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[kind]
    result = await (case(monkeypatch) if "monkeypatch" in case.__code__.co_varnames else case())
    text = result.content[0].text  # type: ignore[union-attr]
    error = error_details(result)
    assert (error["kind"], error["retryable"]) == (kind.value, kind in RETRYABLE), text
    assert f"kind: {kind.value};" in text and error["message"] in text
    assert ("retryable: yes" if kind in RETRYABLE else "retryable: no") in text
    if kind is ErrorKind.RATE_LIMITED:
        assert error["retry_after_seconds"] == 7 and "retry after: 7 s" in text
    if kind is ErrorKind.NO_USABLE_KEY:
        assert 8 <= error["retry_after_seconds"] <= 9 and "retry after: " in text


@pytest.mark.views_replaced
async def test_any_view_can_say_its_payload_is_a_failed_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed job is an isError result in the tool's normal shape, whichever view says so."""
    shaped = Shaped(structured={"status": "failed"}, text="The job failed.", failed_job=True)
    monkeypatch.setitem(VIEWS, "raw", lambda payload, ctx: shaped)
    result = await upstream_says(
        lambda request: httpx.Response(200, json={}), "get_redacted_audio", **TRANSCRIPT
    )
    assert result.is_error and result.structured_content == {"status": "failed"}
    monkeypatch.setitem(VIEWS, "raw", lambda payload, ctx: Shaped(structured={}, text="fine"))
    result = await upstream_says(
        lambda request: httpx.Response(200, json={}), "get_redacted_audio", **TRANSCRIPT
    )
    assert not result.is_error
