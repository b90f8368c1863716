"""Every tool x every access case, over real HTTP, with the expected outcome derived from the case.

A server-side filter hides a tool (absent from tools/list, and a direct call is the protocol's
unknown-tool error, -32602); a token's scopes hide it for that token only, and answer exactly the
same (no existence oracle); a bad token never reaches MCP (HTTP 401 with the error code); otherwise
the call reaches upstream. One server per distinct server filter, each with its own simulator to
count upstream calls.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, ErrorData

from aai_mcp.access import METHOD_CLASSES, Scopes, append_revocation, mint
from aai_mcp.catalog import ToolSpec
from aai_mcp.gateway import build_gateway, load_default_catalog
from aai_mcp.mcp_server.registry import accepted_schema
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from aai_mcp.state.store_sql import open_store
from tests.support import CANARY_KEY, make_settings, wav_bytes
from tests.support.faults import tools_without_upstream_in_call
from tests.support.servers import serve_gateway_in_thread

pytestmark = pytest.mark.anyio

SECRET = "matrix-signing-secret-0123456789abcdef"
UNKNOWN_SECRET = "some-other-servers-secret-0123456789abcdef"
CATALOG = load_default_catalog()
TOOLS = sorted(CATALOG.tools)
HALVES = (frozenset(TOOLS[::2]), frozenset(TOOLS[1::2]))
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
AUDIO_URL = "https://example.com/support-call.mp3"
# What the schema cannot say: these two need exactly one audio source (a handler rule).
SOURCES: dict[str, dict[str, Any]] = {
    "transcribe": {"audio_url": AUDIO_URL},
    "upload_file": {"data_base64": base64.b64encode(b"RIFF fake audio").decode()},
    "extract_from_transcript": {"kit": "support-call-qa"},
    # A model the gateway lists (it is checked before the chat is sent), and a list read past the cache.
    "llm_chat_completion": {"model": "claude-sonnet-4-6"},
    # A name the bundled reference knows, so an allowed call answers.
    "get_api_reference": {"endpoint_or_product": "createTranscript"},
    "list_llm_models": {"refresh": True},
    # The one-request APIs take a real clip (WAV, 80 ms or more), checked before anything is sent.
    "transcribe_clip": {"data_base64": base64.b64encode(wav_bytes(0.5)).decode()},
    "dictate": {"data_base64": base64.b64encode(wav_bytes(0.5)).decode()},
}
Filters = dict[str, Any]
# Tools whose upstream calls are all made after the call (`later` in the catalog: an upload link's
# file arrives through the page): an allowed call reaches its handler, which sends nothing upstream.
# Local tools (the bundled API reference) answer without any upstream request at all.
NO_UPSTREAM = tools_without_upstream_in_call()


def everything_but(values: Any, excluded: str) -> list[str]:
    return sorted(set(values) - {excluded})


@dataclass(frozen=True)
class Case:
    name: str
    server: Callable[[ToolSpec], Filters]
    """The server's filters for this tool: chosen to exclude it wherever that axis can."""
    token: str
    """valid | outside | expired | revoked | tampered | unknown_secret"""


def unfiltered(spec: ToolSpec) -> Filters:
    return {}


def other_toolsets(spec: ToolSpec) -> Filters:
    return {"toolsets": everything_but(CATALOG.toolsets, spec.toolset)}


def other_methods(spec: ToolSpec) -> Filters:
    return {"methods": everything_but(METHOD_CLASSES, spec.effects[0])}


def read_only(spec: ToolSpec) -> Filters:
    return {"read_only": True}


def other_half(spec: ToolSpec) -> Filters:
    return {"tools": sorted(next(half for half in HALVES if spec.name not in half))}


CASES = [
    Case("allowed", unfiltered, "valid"),
    Case("server_toolset", other_toolsets, "valid"),
    Case("server_method", other_methods, "valid"),
    Case("server_read_only", read_only, "valid"),
    Case("server_tools", other_half, "valid"),
    Case("token_scopes", unfiltered, "outside"),
    Case("expired", unfiltered, "expired"),
    Case("revoked", unfiltered, "revoked"),
    Case("tampered", unfiltered, "tampered"),
    Case("unknown_secret", unfiltered, "unknown_secret"),
]
REFUSED_CODES = {
    "expired": "expired",
    "revoked": "revoked",
    "tampered": "bad_signature",
    "unknown_secret": "bad_signature",
}


# --- the oracle: what should happen, from the case and the tool's own attributes ------------------


def offered_by_server(filters: Filters, spec: ToolSpec) -> bool:
    return (
        spec.toolset in filters.get("toolsets", [spec.toolset])
        and set(spec.effects) <= set(filters.get("methods", spec.effects))
        and spec.name in filters.get("tools", [spec.name])
        and (spec.annotations.read_only or not filters.get("read_only", False))
    )


def token_allows(case: Case, target: ToolSpec, other: ToolSpec) -> bool:
    """Whether the token minted for `target` under `case` lets its holder call `other`."""
    return case.token != "outside" or other.name != target.name


def usable(case: Case, target: ToolSpec, other: ToolSpec) -> bool:
    """Offered and allowed, with every tool it always uses (a `uses` entry without `when`)."""
    filters = case.server(target)
    needed = [other] + [CATALOG.tools[use.tool] for use in other.uses if not use.when]
    return all(offered_by_server(filters, tool) and token_allows(case, target, tool) for tool in needed)


def expected_outcome(case: Case, spec: ToolSpec) -> str:
    if case.token in REFUSED_CODES:
        return "unauthorized"
    return "allowed" if usable(case, spec, spec) else "unknown"


def expected_listing(case: Case, spec: ToolSpec) -> set[str]:
    return {other.name for other in CATALOG.tools.values() if usable(case, spec, other)}


# --- minimal valid arguments from a JSON schema ----------------------------------------------------


def example(schema: dict[str, Any]) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        properties = schema.get("properties", {})
        names = list(schema.get("required", []))
        missing = max(0, schema.get("minProperties", 0) - len(names))
        names += [name for name in properties if name not in names][:missing]
        return {name: example(properties.get(name, {})) for name in names}
    if kind == "array":
        return [example(schema.get("items", {}))] * schema.get("minItems", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return AUDIO_URL if schema.get("format") == "uri" else "x" * max(1, schema.get("minLength", 1))


def minimal_arguments(spec: ToolSpec) -> dict[str, Any]:
    schema = accepted_schema(spec)  # with every bound the server checks (tools/list leaves some out)
    arguments: dict[str, Any] = {**example(schema), **SOURCES.get(spec.name, {})}
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(arguments)
    return arguments


def test_minimal_arguments_fill_every_required_property() -> None:
    for spec in CATALOG.tools.values():
        assert set(accepted_schema(spec).get("required", [])) <= set(minimal_arguments(spec)), spec.name
    understand = minimal_arguments(CATALOG.tools["understand_transcript"])
    assert len(understand["speech_understanding"]["request"]) == 1  # minProperties 1


# --- servers and tokens ----------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    simulator: Simulator


class Servers:
    """One server per distinct filter set, started on first use and stopped with the module."""

    def __init__(self, stack: ExitStack, revocations: Path) -> None:
        self.stack = stack
        self.revocations = revocations
        # Upload links live in the store: every server gets one (SQLite beside the revocation file).
        self.store = open_store(revocations.parent / "data", None, {}, auto_upgrade=True)
        stack.callback(self.store.close)
        self.running: dict[str, Server] = {}

    def get(self, filters: Filters) -> Server:
        key = json.dumps(filters, sort_keys=True)
        if key not in self.running:
            app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
            settings = make_settings(
                auth=["tokens"],
                token_secrets=SECRET,
                token_revocation_file=self.revocations,
                wait_poll_initial_seconds=0.01,
                wait_poll_max_seconds=0.05,
                public_url="https://aai.example.test",
                **filters,
            )
            gateway = build_gateway(settings, transport=httpx.ASGITransport(app=app))
            gateway.use_store(self.store)
            url = self.stack.enter_context(serve_gateway_in_thread(gateway))
            self.running[key] = Server(url, app.state.simulator)
        return self.running[key]

    def token(self, case: Case, spec: ToolSpec) -> str:
        everything_else = frozenset(TOOLS) - {spec.name}
        scopes = Scopes(tools=everything_else) if case.token in ("outside", "tampered") else Scopes()
        now = time.time()
        if case.token == "expired":
            return mint(
                SECRET.encode(), name="m", scopes=scopes, expires_at=now - 60, issued_at=now - 3600
            ).token
        secret = UNKNOWN_SECRET if case.token == "unknown_secret" else SECRET
        minted = mint(secret.encode(), name="m", scopes=scopes, expires_at=now + 600)
        if case.token == "revoked":
            append_revocation(self.revocations, minted.jti)
        return widened(minted.token) if case.token == "tampered" else minted.token


def widened(token: str) -> str:
    """The same token with its scopes rewritten to allow everything, signature kept."""
    prefix, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scopes"] = {}
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{prefix}.{encoded}.{signature}"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    revocations = tmp_path_factory.mktemp("matrix") / "revoked.txt"
    revocations.write_text("")  # a configured file that is missing refuses every token
    with ExitStack() as stack:
        yield Servers(stack, revocations)


# Building an SSL context costs ~30 ms, more than a whole loopback MCP session: build it once.
SSL_CONTEXT = ssl.create_default_context()


@asynccontextmanager
async def connect(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[Client]:
    """The mcp SDK client over Streamable HTTP, sending `headers` with every request."""
    timeout = httpx2.Timeout(30, read=120)
    async with httpx2.AsyncClient(headers=headers, timeout=timeout, verify=SSL_CONTEXT) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(verify=SSL_CONTEXT) as client:
        yield client


# --- the matrix ------------------------------------------------------------------------------------


def error_of(result: Any) -> dict[str, Any]:
    error = (result.meta or {}).get("aai-mcp/error") if result.is_error else None
    return error if isinstance(error, dict) else {}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@pytest.mark.parametrize("tool", TOOLS)
async def test_access(case: Case, tool: str, servers: Servers, http: httpx.Client) -> None:
    spec = CATALOG.tools[tool]
    server = servers.get(case.server(spec))
    url = f"{server.url}/mcp/t/{servers.token(case, spec)}"
    arguments = minimal_arguments(spec)
    expected = expected_outcome(case, spec)
    before = len(server.simulator.requests)

    if expected == "unauthorized":
        call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        response = http.post(url, json=call, headers=MCP_HEADERS)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == REFUSED_CODES[case.token]
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert len(server.simulator.requests) == before
        return

    async with connect(url) as client:
        listed = {definition.name for definition in (await client.list_tools()).tools}
        result: CallToolResult | ErrorData
        try:
            result = await client.call_tool(tool, arguments)
        except MCPError as exc:
            result = exc.error
    reached = len(server.simulator.requests) > before
    assert listed == expected_listing(case, spec)

    if expected == "unknown":
        assert tool not in listed
        assert result == ErrorData(code=INVALID_PARAMS, message=f"Unknown tool: {tool}")
        assert not reached
    else:
        error = error_of(result)
        assert tool in listed
        if tool in NO_UPSTREAM:
            # wait_for_upload is given no real link: its handler saying so shows the call got through.
            assert error.get("kind") is None or "not an upload link" in error["message"], result
            assert not reached
            return
        assert error.get("kind") not in ("forbidden", "invalid_arguments", "too_many_calls"), result
        assert reached, f"{tool} never reached upstream: {result}"


# --- composite: transcribe with local audio also needs upload_file ---------------------------------

MCP_CASES = [case for case in CASES if case.token not in REFUSED_CODES]


def may_call(case: Case, target: ToolSpec, tool: ToolSpec) -> bool:
    return offered_by_server(case.server(target), tool) and token_allows(case, target, tool)


@pytest.mark.parametrize("case", MCP_CASES, ids=[case.name for case in MCP_CASES])
async def test_transcribe_uploads_only_with_upload_files_permission(case: Case, servers: Servers) -> None:
    # Each case is aimed at upload_file (its filters and token exclude upload_file), then transcribe
    # is called with audio to upload: it must be refused wherever upload_file is, and only there.
    upload, transcribe = CATALOG.tools["upload_file"], CATALOG.tools["transcribe"]
    server = servers.get(case.server(upload))
    url = f"{server.url}/mcp/t/{servers.token(case, upload)}"
    before = len(server.simulator.requests)
    async with connect(url) as client:
        listed = {definition.name for definition in (await client.list_tools()).tools}
        result: CallToolResult | ErrorData
        try:
            result = await client.call_tool("transcribe", {**SOURCES["upload_file"], "wait": False})
        except MCPError as exc:
            result = exc.error
    uploaded = "POST /v2/upload" in [request.route for request in server.simulator.requests[before:]]

    if not may_call(case, upload, transcribe):
        assert "transcribe" not in listed
        assert result == ErrorData(code=INVALID_PARAMS, message="Unknown tool: transcribe")
    elif not may_call(case, upload, upload):
        assert "transcribe" in listed and "upload_file" not in listed
        error = error_of(result)
        assert error.get("kind") == "forbidden", result
        assert "transcribe with data_base64 needs" in error["message"], error
    else:
        assert not error_of(result), result
    assert uploaded == (may_call(case, upload, transcribe) and may_call(case, upload, upload))
