"""/metrics: exact counts after calls, who may read it, bounded labels, and no secret in a scrape.

In-process: the HTTP app through httpx.ASGITransport (whose `client` sets the peer address), the
upstream mocked with respx; one `slow` test scrapes a uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from prometheus_client.parser import text_string_to_metric_families

from aai_mcp.access import Scopes, inspect, mint
from aai_mcp.access.principal import Authenticator, Principal
from aai_mcp.cli.main import load_command
from aai_mcp.cli.token import run_token_command
from aai_mcp.gateway import Gateway, build_gateway, load_default_catalog
from aai_mcp.metrics import UNKNOWN
from aai_mcp.transports.http import build_http_app
from tests.support import CANARY_KEY, make_settings
from tests.support.raw_mcp import Session
from tests.support.servers import serve_gateway_in_thread

pytestmark = pytest.mark.anyio

API = "https://api.assemblyai.com"
SECRET = "metrics-signing-secret-0123456789abcdefgh"
LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.7", 50000)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def transcript(tid: str) -> dict[str, Any]:
    return {"id": tid, "status": "completed", "text": "hello", "audio_duration": 1}


async def scrape(gateway: Gateway, client: tuple[str, int] = LOOPBACK, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=build_http_app(gateway), client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        return await http.get("/metrics", headers=headers)


def samples(body: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    built = build_gateway(make_settings())
    yield built


async def test_a_scrape_after_calls_counts_each_call_and_attempt_exactly(
    gateway: Gateway, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/v2/transcript/t-ok").respond(200, json=transcript("t-ok"))
    respx_mock.get(f"{API}/v2/transcript/t-gone").respond(404, json={"error": "not found"})
    respx_mock.get(f"{API}/v2/transcript/t-busy").respond(429, json={"error": "slow down"})
    respx_mock.get(f"{API}/v2/transcript/t-down").respond(500, json={"error": "oops"})
    calls = ["t-ok", "t-ok", "t-gone", "t-busy", "t-down"]
    for tid in calls:
        await gateway.runner.call("get_transcript", {"transcript_id": tid})
    await gateway.runner.call("get_transcript", {})  # invalid: never reaches upstream
    response = await scrape(gateway)
    await gateway.aclose()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)
    counted = "aai_mcp_tool_calls_total"
    tool = "get_transcript"
    assert value(found, counted, tool=tool, outcome="ok") == 2
    assert value(found, counted, tool=tool, outcome="upstream_rejected") == 1
    assert value(found, counted, tool=tool, outcome="rate_limited") == 1
    assert value(found, counted, tool=tool, outcome="upstream_unavailable") == 1
    assert value(found, counted, tool=tool, outcome="invalid_arguments") == 1
    assert value(found, "aai_mcp_tool_call_duration_seconds_count", tool=tool) == len(calls) + 1
    upstream = "aai_mcp_upstream_requests_total"
    retries = gateway.settings.get_retries
    assert value(found, upstream, host="api", status_class="2xx") == 2
    assert value(found, upstream, host="api", status_class="4xx") == 2  # a 429 is never retried
    assert value(found, upstream, host="api", status_class="5xx") == 1 + retries  # each GET attempt
    assert value(found, "aai_mcp_upstream_rate_limited_total", host="api") == 1


async def test_a_connection_failure_counts_as_no_answer(
    gateway: Gateway, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{API}/v2/transcript").mock(side_effect=httpx.ConnectError("refused"))
    result = await gateway.runner.call("transcribe", {"audio_url": "https://example.com/a.mp3"})
    found = samples((await scrape(gateway)).text)
    await gateway.aclose()
    assert result.is_error
    # A POST is never repeated: one attempt, no answer.
    assert value(found, "aai_mcp_upstream_requests_total", host="api", status_class="none") == 1
    kind = result.meta["aai-mcp/error"]["kind"] if result.meta else None
    assert value(found, "aai_mcp_tool_calls_total", tool="transcribe", outcome=str(kind)) == 1


async def test_a_call_its_client_cancels_counts_as_cancelled(
    gateway: Gateway, respx_mock: respx.MockRouter
) -> None:
    arrived = anyio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    respx_mock.get(f"{API}/v2/transcript/t-slow").mock(side_effect=hang)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(gateway.runner.call, "get_transcript", {"transcript_id": "t-slow"})
        with anyio.fail_after(30):
            await arrived.wait()
        tasks.cancel_scope.cancel()
    found = samples((await scrape(gateway)).text)
    await gateway.aclose()
    assert value(found, "aai_mcp_tool_calls_total", tool="get_transcript", outcome="cancelled") == 1


HOSTILE_NAMES = [
    'x"} 1\nfake_metric{a="b',
    "get_transcript\n",
    "GET_TRANSCRIPT",
    "ünïcödé-tool",
    "a" * 5000,
    "",
    "../../etc/passwd",
    *[f"made_up_{index}" for index in range(200)],
]


async def test_hostile_tool_names_all_count_as_unknown_and_never_show(gateway: Gateway) -> None:
    for name in HOSTILE_NAMES:
        with pytest.raises(MCPError):
            await gateway.runner.call(name, {})
    body = (await scrape(gateway)).text
    await gateway.aclose()
    found = samples(body)
    unknown = value(found, "aai_mcp_tool_calls_total", tool=UNKNOWN, outcome="unknown_tool")
    assert unknown == len(HOSTILE_NAMES)
    tools = {dict(labels).get("tool") for (_, labels) in found} - {None}
    assert tools == {UNKNOWN}
    assert "made_up_" not in body and "fake_metric" not in body and "etc/passwd" not in body


async def test_the_configured_key_never_appears_in_a_scrape(respx_mock: respx.MockRouter) -> None:
    # A key echoed back by upstream, and rejected: whatever the calls saw, the scrape shows none of it.
    respx_mock.get(f"{API}/v2/transcript/t-echo").respond(401, json={"error": f"bad key {CANARY_KEY}"})
    respx_mock.get(f"{API}/v2/transcript/t-ok").respond(200, json=transcript(CANARY_KEY))
    gateway = build_gateway(make_settings())
    for tid in ("t-echo", "t-ok"):
        await gateway.runner.call("get_transcript", {"transcript_id": tid})
    response = await scrape(gateway)
    await gateway.aclose()
    assert response.status_code == 200 and "aai_mcp_tool_calls_total" in response.text
    assert CANARY_KEY not in response.text


# --- who may read /metrics ----------------------------------------------------------------------


def token(metrics: bool) -> str:
    scopes = Scopes(metrics=True) if metrics else Scopes()
    return mint(SECRET.encode(), name="scraper", scopes=scopes, expires_at=None).token


def secured(**overrides: Any) -> Gateway:
    values: dict[str, Any] = {"auth": ["tokens", "passthrough-key"], "token_secrets": SECRET}
    return build_gateway(make_settings(**{**values, **overrides}))


@pytest.mark.parametrize(
    ("mode", "peer", "credential", "status"),
    [
        ("loopback", LOOPBACK, None, 200),
        ("loopback", LOOPBACK, "plain", 200),
        ("loopback", LOOPBACK, "metrics", 200),
        ("loopback", REMOTE, None, 401),
        ("loopback", REMOTE, "plain", 403),
        ("loopback", REMOTE, "metrics", 200),
        ("loopback", REMOTE, "passthrough", 403),
        ("loopback", REMOTE, "forged", 401),
        ("token", LOOPBACK, None, 401),
        ("token", LOOPBACK, "plain", 403),
        ("token", LOOPBACK, "metrics", 200),
        ("token", REMOTE, "metrics", 200),
        ("off", LOOPBACK, None, 404),
        ("off", REMOTE, "metrics", 404),
    ],
)
async def test_access_matrix(mode: str, peer: tuple[str, int], credential: str | None, status: int) -> None:
    headers = {
        None: {},
        "plain": {"Authorization": f"Bearer {token(metrics=False)}"},
        "metrics": {"Authorization": f"Bearer {token(metrics=True)}"},
        "passthrough": {"X-AssemblyAI-Key": "someone-elses-assemblyai-key"},
        "forged": {"Authorization": f"Bearer {token(metrics=True)[:-4]}AAAA"},
    }[credential]
    gateway = secured(metrics=mode)
    response = await scrape(gateway, peer, **headers)
    await gateway.aclose()
    assert response.status_code == status, response.text
    if status == 200:
        assert "aai_mcp_tool_calls" in response.text
    else:
        assert "aai_mcp_" not in response.text


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
async def test_a_request_a_proxy_forwarded_is_not_local(header: str) -> None:
    # A reverse proxy on the same host makes every remote client's request come from loopback.
    gateway = secured()
    refused = await scrape(gateway, LOOPBACK, **{header: "198.51.100.4"})
    bearer = f"Bearer {token(metrics=True)}"
    allowed = await scrape(gateway, LOOPBACK, **{header: "198.51.100.4", "Authorization": bearer})
    await gateway.aclose()
    assert (refused.status_code, allowed.status_code) == (401, 200)


async def test_an_open_server_lets_only_this_machine_read() -> None:
    gateway = build_gateway(make_settings())  # auth none: no token can ever be presented
    local, remote = await scrape(gateway, LOOPBACK), await scrape(gateway, REMOTE)
    await gateway.aclose()
    assert (local.status_code, remote.status_code) == (200, 403)


def test_the_metrics_scope_is_not_encoded_when_not_granted() -> None:
    # Tokens minted before the scope existed, and those without it, encode (and so verify) as before.
    assert "metrics" not in Scopes(read_only=True).model_dump(mode="json", exclude_none=True)
    assert Scopes(metrics=True).intersect(Scopes()).metrics is None
    assert Scopes(metrics=True).intersect(Scopes(metrics=True)).metrics is True


async def test_gauges_show_waits_and_poll_loops_while_they_run(
    gateway: Gateway, respx_mock: respx.MockRouter
) -> None:
    polled = anyio.Event()

    def processing(request: httpx.Request) -> httpx.Response:
        polled.set()
        return httpx.Response(200, json={"id": "t-wait", "status": "processing"})

    respx_mock.get(f"{API}/v2/transcript/t-wait").mock(side_effect=processing)
    wait = {"transcript_id": "t-wait", "timeout_seconds": 600}
    async with anyio.create_task_group() as tasks:
        for _ in range(3):  # three waiters of one transcript share one poll loop
            tasks.start_soon(gateway.runner.call, "wait_for_transcript", wait)
        with anyio.fail_after(30):
            await polled.wait()
            while gateway.runner.poller.waiting() < 3:
                await anyio.sleep(0)  # the other two join on their own first step, without I/O
        during = samples((await scrape(gateway)).text)
        tasks.cancel_scope.cancel()
    after = samples((await scrape(gateway)).text)
    await gateway.aclose()
    assert (value(during, "aai_mcp_waits_in_flight"), value(during, "aai_mcp_poll_loops")) == (3, 1)
    assert (value(after, "aai_mcp_waits_in_flight"), value(after, "aai_mcp_poll_loops")) == (0, 0)
    assert value(after, "aai_mcp_tool_calls_total", tool="wait_for_transcript", outcome="cancelled") == 3


def mint_with(capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str, str]:
    env = {"AAI_MCP_TOKEN_SECRETS": SECRET}
    loaded = load_command(["token", "mint", "--name", "prometheus", *flags], env)
    code = run_token_command(loaded, catalog=load_default_catalog())
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def line(output: str, name: str) -> str:
    return next(text.split(":", 1)[1].strip() for text in output.splitlines() if text.startswith(f"{name}:"))


@pytest.mark.parametrize(
    ("flags", "scopes", "shown"),
    [
        (["--metrics"], Scopes(metrics=True), "yes"),
        ([], Scopes(), "no"),
        (["--metrics-only"], Scopes(tools=frozenset(), metrics=True), "yes"),
    ],
)
def test_token_mint_grants_the_metrics_scope_only_when_asked(
    capsys: pytest.CaptureFixture[str], flags: list[str], scopes: Scopes, shown: str
) -> None:
    code, out, err = mint_with(capsys, *flags)
    assert (code, err) == (0, "")
    assert (inspect(line(out, "token")).scopes, line(out, "metrics")) == (scopes, shown)


async def test_a_metrics_only_token_reads_metrics_and_calls_no_tool(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = mint_with(capsys, "--metrics-only")
    bearer = {"Authorization": f"Bearer {line(out, 'token')}"}
    gateway = secured()
    principal = gateway_principal(gateway, bearer)
    with pytest.raises(MCPError):
        await gateway.runner.call("list_transcripts", {}, principal=principal)
    response = await scrape(gateway, REMOTE, **bearer)
    await gateway.aclose()
    assert response.status_code == 200
    found = samples(response.text)
    assert value(found, "aai_mcp_tool_calls_total", tool="list_transcripts", outcome="unknown_tool") == 1


def gateway_principal(gateway: Gateway, headers: dict[str, str]) -> Principal:
    lowered = {name.lower(): text for name, text in headers.items()}
    return Authenticator(gateway.settings).authenticate(lowered, None)


@pytest.mark.parametrize("flag", ["--read-only", "--proxy"])
def test_metrics_only_refuses_tool_and_proxy_flags(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    code, out, err = mint_with(capsys, "--metrics-only", flag)
    assert (code, out) == (2, "")
    assert "--metrics-only allows no tool and no proxy" in err


@pytest.mark.slow
async def test_a_real_scrape_over_loopback_after_mcp_calls() -> None:
    """The gateway served by uvicorn on 127.0.0.1 with the simulator upstream, an SDK client's calls
    over Streamable HTTP, then a plain GET /metrics as Prometheus would send it."""
    gateway = build_gateway(make_settings(api_key=None, simulator_delay_seconds=0))
    with serve_gateway_in_thread(gateway) as url:
        async with Client(f"{url}/mcp") as client:
            for _ in range(2):
                assert not (await client.call_tool("list_transcripts", {})).is_error
            with pytest.raises(MCPError):
                await client.call_tool("no_such_tool", {})
        with httpx.Client(timeout=60) as http:
            Session(http, f"{url}/mcp", {})  # a session (of the 2025-06-18 protocol) stays open
            response = http.get(f"{url}/metrics")
    assert response.status_code == 200
    found = samples(response.text)
    assert value(found, "aai_mcp_tool_calls_total", tool="list_transcripts", outcome="ok") == 2
    assert value(found, "aai_mcp_tool_calls_total", tool=UNKNOWN, outcome="unknown_tool") == 1
    assert value(found, "aai_mcp_upstream_requests_total", host="api", status_class="2xx") == 2
    assert value(found, "aai_mcp_sessions_open") == 1
    assert CANARY_KEY not in response.text
