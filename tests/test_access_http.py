"""Access control over real loopback sockets: tokens in the URL and as a bearer, the extra header,
revocation while running, caller keys, refusals, the bind check, per-token limits and the audit log."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from aai_mcp.access import HEADER_NAME, Scopes, append_revocation, mint
from aai_mcp.access.principal import Authenticator
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import build_gateway, load_default_catalog
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, error_details, make_settings
from tests.support.servers import (
    clean_env,
    free_port,
    serve_gateway_in_thread,
    serve_in_process,
    serve_in_thread,
)
from tests.test_access_matrix import MCP_HEADERS, connect
from tests.test_inspector_cli import inspector

pytestmark = pytest.mark.anyio

SECRET = "http-signing-secret-0123456789abcdefgh"
CATALOG = load_default_catalog()
AUDIO_URL = "https://example.com/support-call.mp3"
API = "https://api.assemblyai.com"
AGENTS = "https://agents.assemblyai.com"
# Transcript tools that read or transcribe (not delete).
SCOPES = Scopes(toolsets=frozenset({"transcripts"}), methods=frozenset({"read", "transcription"}))
ALLOWED = {
    spec.name
    for spec in CATALOG.tools.values()
    if spec.toolset == "transcripts" and set(spec.effects) <= {"read", "transcription"}
}


def token_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_key": None,
        "simulator_delay_seconds": 0.0,
        "auth": ["tokens"],
        "token_secrets": SECRET,
        **overrides,
    }
    return make_settings(**values)


def new_token(scopes: Scopes = SCOPES, **kwargs: Any) -> Any:
    return mint(SECRET.encode(), name="http test", scopes=scopes, expires_at=None, **kwargs)


def post_call(url: str, tool: str = "list_transcripts", **headers: str) -> httpx.Response:
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}}
    return httpx.post(url, json=call, headers={**MCP_HEADERS, **headers})


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    if status == 401:
        assert response.headers["www-authenticate"] == 'Bearer realm="aai-mcp"'


@pytest.fixture(scope="module")
def cli_server() -> Iterator[str]:
    """`aai-mcp serve --auth tokens`, the signing secret in the environment as in production."""
    env = clean_env(AAI_MCP_TOKEN_SECRETS=SECRET)
    with serve_in_process("--auth", "tokens", "--simulator-delay-seconds", "0", env=env) as server:
        yield server.base_url


@pytest.mark.slow
def test_inspector_cli_with_the_token_in_the_url(cli_server: str) -> None:
    url = f"{cli_server}/mcp/t/{new_token().token}"
    listed = inspector(url, "--transport", "http", "--method", "tools/list")
    assert {tool["name"] for tool in listed["tools"]} == ALLOWED
    created = inspector(
        url, "--transport", "http", "--method", "tools/call", "--tool-name", "create_transcript",
        "--tool-arg", f"audio_url={AUDIO_URL}",
    )  # fmt: skip
    assert created["isError"] is False and created["structuredContent"]["status"] == "queued"
    got = inspector(
        url, "--transport", "http", "--method", "tools/call", "--tool-name", "get_transcript",
        "--tool-arg", f"transcript_id={created['structuredContent']['id']}",
    )  # fmt: skip
    assert got["isError"] is False and got["structuredContent"]["id"] == created["structuredContent"]["id"]


async def test_the_same_token_as_a_bearer_with_the_sdk_client(cli_server: str) -> None:
    minted = new_token()
    async with connect(f"{cli_server}/mcp", {"Authorization": f"Bearer {minted.token}"}) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        created = await client.call_tool("create_transcript", {"audio_url": AUDIO_URL})
    assert listed == ALLOWED
    assert not created.is_error and created.structured_content["status"] == "queued"


def test_no_credentials_is_401_saying_how_to_authenticate(cli_server: str) -> None:
    for url in (f"{cli_server}/mcp", f"{cli_server}/mcp/t/"):
        response = post_call(url)
        assert_refused(response, 401, "missing_credentials")
        assert "/mcp/t/<token>" in response.json()["error"]["message"]
    assert_refused(httpx.get(f"{cli_server}/sse"), 401, "missing_credentials")
    assert_refused(post_call(f"{cli_server}/mcp/t/not-a-token"), 401, "malformed")
    assert httpx.get(f"{cli_server}/healthz").status_code == 200  # health checks need no token


async def test_a_require_header_token_needs_its_header(cli_server: str) -> None:
    minted = new_token(require_header=True)
    assert minted.header_secret
    url = f"{cli_server}/mcp/t/{minted.token}"
    assert_refused(post_call(url), 401, "header_missing")
    assert_refused(post_call(url, **{HEADER_NAME: "not-the-secret"}), 401, "header_wrong")
    async with connect(url, {HEADER_NAME: minted.header_secret}) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("list_transcripts", {})
    assert listed == ALLOWED and not result.is_error


async def test_revocation_takes_effect_without_a_restart(tmp_path: Path) -> None:
    revocations = tmp_path / "revoked.txt"
    revocations.write_text("")
    revoked, kept = new_token(), new_token()
    with serve_in_thread(token_settings(token_revocation_file=revocations)) as base:
        async with connect(f"{base}/mcp/t/{revoked.token}") as client:
            assert not (await client.call_tool("list_transcripts", {})).is_error
            append_revocation(revocations, revoked.jti, "leaked in a chat")
            with pytest.raises(MCPError):
                await client.call_tool("list_transcripts", {})
        assert_refused(post_call(f"{base}/mcp/t/{revoked.token}"), 401, "revoked")
        async with connect(f"{base}/mcp/t/{kept.token}") as client:
            assert not (await client.call_tool("list_transcripts", {})).is_error


async def test_an_unreadable_revocation_file_refuses_every_token_with_503(tmp_path: Path) -> None:
    revocations = tmp_path / "revoked.txt"
    revocations.write_text("")
    with serve_in_thread(token_settings(token_revocation_file=revocations)) as base:
        url = f"{base}/mcp/t/{new_token().token}"
        assert post_call(url).status_code not in (401, 403, 503)  # past auth (MCP wants a session)
        revocations.unlink()
        revocations.mkdir()  # exists, cannot be read as a file: fail closed
        assert_refused(post_call(url), 503, "revocation_unavailable")


# --- passthrough keys --------------------------------------------------------------------------------


@pytest.fixture
def upstream() -> Iterator[respx.MockRouter]:
    """respx patches httpx for every thread; the MCP client speaks httpx2, so it is not intercepted."""
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        router.get(f"{API}/v2/transcript").respond(200, json={"transcripts": [], "page_details": {}})
        router.get(f"{AGENTS}/v1/token").respond(200, json={"token": "agent-token", "expires_in": 60})
        yield router


def outbound_keys(router: respx.MockRouter) -> list[str]:
    return [
        call.request.headers["authorization"] for call in router.calls if call.request.url.host != "127.0.0.1"
    ]


async def test_passthrough_sends_the_callers_key_upstream(upstream: respx.MockRouter) -> None:
    settings = make_settings(auth=["passthrough-key"])  # the server's own key is the canary
    with serve_in_thread(settings) as base:
        async with connect(f"{base}/mcp", {"X-AssemblyAI-Key": "caller-key-1"}) as client:
            assert not (await client.call_tool("list_transcripts", {})).is_error
            assert not (
                await client.call_tool("create_voice_agent_token", {"expires_in_seconds": 60})
            ).is_error
        async with connect(f"{base}/mcp", {"Authorization": "Bearer caller-key-2"}) as client:
            assert not (await client.call_tool("list_transcripts", {})).is_error
        assert_refused(post_call(f"{base}/mcp"), 401, "missing_credentials")
        assert_refused(post_call(f"{base}/mcp/t/{new_token().token}"), 401, "tokens_disabled")
    assert outbound_keys(upstream) == ["caller-key-1", "Bearer caller-key-1", "caller-key-2"]


def test_passthrough_callers_are_told_apart_without_showing_their_keys() -> None:
    authenticator = Authenticator(make_settings(auth=["passthrough-key"]))
    first = authenticator.authenticate({"x-assemblyai-key": "key-one"}, None)
    again = authenticator.authenticate({"authorization": "Bearer  key-one "}, None)
    other = authenticator.authenticate({"x-assemblyai-key": "key-two"}, None)
    assert first.id == again.id != other.id
    assert "key-one" not in first.id and first.api_key is not None
    assert first.api_key.get_secret_value() == "key-one"


async def test_passthrough_with_a_wrong_key_gets_upstreams_401() -> None:
    app = build_simulator_app(SimulatorConfig(api_key="the-right-key", processing_delay_seconds=0.0))
    gateway = build_gateway(make_settings(auth=["passthrough-key"]), transport=httpx.ASGITransport(app=app))
    with serve_gateway_in_thread(gateway) as base:
        async with connect(f"{base}/mcp", {"X-AssemblyAI-Key": "the-right-key"}) as client:
            right = await client.call_tool("list_transcripts", {})
        async with connect(f"{base}/mcp", {"X-AssemblyAI-Key": "a-wrong-key"}) as client:
            wrong = await client.call_tool("list_transcripts", {})
    assert not right.is_error
    assert wrong.is_error and error_details(wrong)["status"] == 401


# --- the bind check ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_unauthenticated_serving_off_loopback_is_refused_at_start() -> None:
    command = [sys.executable, "-m", "aai_mcp", "serve", "--host", "0.0.0.0", "--port", str(free_port())]
    done = subprocess.run(command, env=clean_env(), capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2, done.stderr
    assert "refusing to serve 0.0.0.0 without authentication" in done.stderr
    assert "--auth tokens" in done.stderr and "--insecure-no-auth" in done.stderr


@pytest.mark.slow
async def test_insecure_no_auth_lets_it_start_off_loopback() -> None:
    with serve_in_process("--host", "0.0.0.0", "--insecure-no-auth") as server:
        async with Client(f"{server.base_url}/mcp") as client:
            assert (await client.list_tools()).tools


# --- per-token concurrency -------------------------------------------------------------------------------


async def test_the_per_token_concurrency_limit() -> None:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=60.0))
    settings = make_settings(
        auth=["tokens"],
        token_secrets=SECRET,
        max_concurrent_calls_per_token=1,
        wait_poll_initial_seconds=0.05,
        wait_poll_max_seconds=0.05,
    )
    gateway = build_gateway(settings, transport=httpx.ASGITransport(app=app))
    busy, other = new_token(Scopes()), new_token(Scopes())
    results: dict[str, Any] = {}
    with serve_gateway_in_thread(gateway) as base:
        async with (
            connect(f"{base}/mcp/t/{busy.token}") as first,
            connect(f"{base}/mcp/t/{busy.token}") as again,
        ):
            created = await first.call_tool("create_transcript", {"audio_url": AUDIO_URL})
            wait = {"transcript_id": created.structured_content["id"], "timeout_seconds": 1.5}

            async def call(name: str, client: Client) -> None:
                results[name] = await client.call_tool("wait_for_transcript", wait)

            async with anyio.create_task_group() as group:
                group.start_soon(call, "first", first)
                with anyio.fail_after(5):
                    while not gateway.runner.poller.polling():
                        await anyio.sleep(0.01)
                await call("second", again)
                async with connect(f"{base}/mcp/t/{other.token}") as client:
                    await call("other token", client)
    assert results["second"].is_error
    error = error_details(results["second"])
    assert error["kind"] == "too_many_calls" and error["retryable"] is True
    for name in ("first", "other token"):
        assert not results[name].is_error and results[name].structured_content["timed_out"] is True, name


async def test_distinct_passthrough_keys_have_distinct_limits() -> None:
    app = build_simulator_app(SimulatorConfig(api_key="key-a", processing_delay_seconds=60.0))
    settings = make_settings(
        auth=["passthrough-key"], max_concurrent_calls_per_token=1, wait_poll_initial_seconds=0.05
    )
    gateway = build_gateway(settings, transport=httpx.ASGITransport(app=app))
    results: dict[str, Any] = {}
    with serve_gateway_in_thread(gateway) as base:
        async with connect(f"{base}/mcp", {"X-AssemblyAI-Key": "key-a"}) as a:
            created = await a.call_tool("create_transcript", {"audio_url": AUDIO_URL})
            wait = {"transcript_id": created.structured_content["id"], "timeout_seconds": 1}

            async def waits(name: str, key: str) -> None:
                async with connect(f"{base}/mcp", {"X-AssemblyAI-Key": key}) as client:
                    results[name] = await client.call_tool("wait_for_transcript", wait)

            async with anyio.create_task_group() as group:
                group.start_soon(waits, "a", "key-a")
                with anyio.fail_after(5):
                    while not gateway.runner.poller.polling():
                        await anyio.sleep(0.01)
                await waits("a again", "key-a")
                await waits("b", "key-b")
    assert error_details(results["a again"])["kind"] == "too_many_calls"
    # Another caller's key is not held back by key-a's call (it fails upstream: key-b is unknown there).
    assert error_details(results["b"])["kind"] != "too_many_calls"


# --- the audit log ---------------------------------------------------------------------------------------

AUDIT = re.compile(
    r"token=(?P<token>\S+) tool=(?P<tool>\S+) outcome=(?P<outcome>ok|error|unknown_tool) "
    r"upstream_status=(?P<status>\S+) duration_ms=(?P<ms>\d+)"
)


async def test_one_audit_line_per_call_without_argument_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aai_mcp.audit")
    minted = new_token()
    marker = "ARGVALUE7731"
    with serve_in_thread(token_settings()) as base:
        async with connect(f"{base}/mcp/t/{minted.token}") as client:
            await client.call_tool("create_transcript", {"audio_url": f"https://example.com/{marker}.mp3"})
            await client.call_tool("get_transcript", {"transcript_id": f"{marker}-missing"})
            with pytest.raises(MCPError):
                await client.call_tool("delete_transcript", {"transcript_id": marker})
            await client.call_tool("search_words", {"transcript_id": marker, "words": []})
    lines = [record.getMessage() for record in caplog.records if record.name == "aai_mcp.audit"]
    parsed = [AUDIT.fullmatch(line) for line in lines]
    assert all(parsed), lines
    fields = [(m["token"], m["tool"], m["outcome"], m["status"]) for m in parsed if m]
    assert fields == [
        (minted.jti, "create_transcript", "ok", "200"),
        (minted.jti, "get_transcript", "error", "404"),
        (minted.jti, "delete_transcript", "unknown_tool", "None"),  # outside its scopes: never sent upstream
        (minted.jti, "search_words", "error", "None"),  # invalid arguments
    ]
    assert not any(marker in line for line in lines)
