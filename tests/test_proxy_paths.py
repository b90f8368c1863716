"""No open proxy: only AssemblyAI's documented paths and methods are forwarded, to hosts we choose."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest
from starlette.types import Message

from aai_mcp.gateway import load_default_catalog
from aai_mcp.proxy.allowlist import ALLOWED, HOST_PREFIXES, resolve
from aai_mcp.transports.http import build_http_app
from tests.support.proxy_harness import PROXY, RecordingUpstream, proxy_gateway, proxy_token
from tests.support.spec_reference import normalise_path, specs

pytestmark = pytest.mark.anyio

REFUSED = [
    ("GET", "/v2/transcript/../upload"),
    ("GET", "/v2/transcript/abc/.."),
    ("GET", "/v2/transcript/./abc"),
    ("GET", "/v2/transcript/abc%2F..%2F..%2Fupload"),
    ("GET", "/v2/transcript/abc%2fsentences"),
    ("GET", "/v2/transcript/%2e%2e"),
    ("GET", "/http://evil.test/v2/transcript"),
    ("GET", "//evil.test/v2/transcript"),
    ("GET", "/v2/transcript//abc"),
    ("GET", "/v2/transcript/user@evil.test"),
    ("GET", "/v2/unknown"),
    ("GET", "/v1/models"),
    ("GET", "/v2/transcript/abc/sentences/extra"),
    ("GET", "/llm-gateway/v2/transcript"),
    ("GET", "/agents/v3/token"),
    ("GET", "/"),
    ("DELETE", "/v2/upload"),
    ("PUT", "/v2/transcript/abc"),
    ("POST", "/v3/token"),
    ("GET", "/llm-gateway/v1/chat/completions"),
]


async def asgi_call(
    app: Any, method: str, raw_path: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    """One request with exactly this request target (httpx would normalise `..` away)."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    status = next(message["status"] for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return status, body


@pytest.mark.parametrize(("method", "path"), REFUSED)
async def test_paths_outside_the_api_are_404_and_never_sent(method: str, path: str) -> None:
    upstream = RecordingUpstream()
    app = build_http_app(proxy_gateway(upstream))
    auth = [(b"authorization", proxy_token().encode())]
    status, body = await asgi_call(app, method, (PROXY + path).encode(), auth)
    assert status == 404, body
    assert upstream.seen == []


async def test_an_absolute_request_target_cannot_choose_the_host() -> None:
    upstream = RecordingUpstream()
    app = build_http_app(proxy_gateway(upstream))
    auth = [(b"authorization", proxy_token().encode())]
    status, _ = await asgi_call(app, "GET", b"http://evil.test" + PROXY.encode() + b"/v2/transcript", auth)
    assert status == 404
    assert upstream.seen == []


async def test_an_allowed_path_is_sent_to_its_own_host_only() -> None:
    upstream = RecordingUpstream()
    app = build_http_app(proxy_gateway(upstream))
    headers = [(b"authorization", proxy_token().encode()), (b"x-forwarded-host", b"evil.test")]
    status, _ = await asgi_call(app, "GET", PROXY.encode() + b"/v2/transcript/abc/vtt", headers)
    assert status == 200
    assert str(upstream.seen[0].request.url) == "https://api.assemblyai.com/v2/transcript/abc/vtt"


# Operations of hosts the spec repo lacks, from the official SDK 1.8.2 (ENDPOINTS-SDK-2026-10.md §1.1,
# §1.6, §2): the paths its SyncTranscriber and DictationTranscriber call. TTS and its token have
# stand-in specs (tests/support/speech_spec.py).
SDK_OPERATIONS = {
    ("sync", "POST", "/v1/transcribe/live"),
    ("sync", "GET", "/v1/warm"),
    ("dictation", "POST", "/v1/transcribe/live"),
    ("dictation", "GET", "/v1/warm"),
}


def test_the_allowlist_is_exactly_the_documented_operations() -> None:
    documented = {
        (host, method, path) for host, operations in specs().operations.items() for method, path in operations
    }
    listed = {(host, method, normalise_path(path)) for host, method, path, _ in ALLOWED}
    assert listed == documented | SDK_OPERATIONS


def test_every_allowed_operation_resolves_to_its_host() -> None:
    for host, method, template, _ in ALLOWED:
        path = HOST_PREFIXES[host] + template.replace("{}", "abc_123-X.y")
        target = resolve(method, path)
        assert target is not None and target.host == host, (host, method, template)


def test_each_calls_effect_is_the_one_its_mcp_tool_declares() -> None:
    """One access model: the proxy path a tool calls needs the effect the tool is filtered by."""
    checked = 0
    for spec in load_default_catalog().tools.values():
        # Local tools (bundled data) and the upload-link tools (the person's upload is the request,
        # later) send nothing upstream in their call: the catalog says which, no list here.
        if not spec.calls_upstream_in_call:
            continue
        route = spec.route
        if route.host not in HOST_PREFIXES:
            continue
        path = HOST_PREFIXES[route.host] + re.sub(r"\{[^}]*\}", "abc", route.path)
        target = resolve(route.method, path)
        assert target is not None, (spec.name, route.method, route.path)
        assert target.effect in spec.effects, (spec.name, target.effect, spec.effects)
        checked += 1
    assert checked >= 10
