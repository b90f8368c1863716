"""Every tool x every upstream fault, over real loopback sockets: a clear isError result with the
right kind and `retryable`, GETs retried a bounded number of times, creating POSTs never repeated,
the server still serving, and no task or connection left behind."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from mcp.client import Client

from aai_mcp.catalog import Catalog, ToolSpec
from aai_mcp.catalog.model import HostName
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.runtime.results import META_RATE_LIMIT
from aai_mcp.mcp_server.runtime.validation import ArgumentValidator
from aai_mcp.simulator import FAULT_KINDS, Simulator, SimulatorConfig, build_simulator_app
from aai_mcp.upstream.hosts import SIMULATOR_PREFIXES
from tests.support import CANARY_KEY, error_details, faults, make_settings
from tests.support.faults import (
    CLIP,
    HeaderDelay,
    Outbound,
    busy_connections,
    known_values,
    minimal_args,
    open_fds,
    pools,
    settle,
    task_count,
)

pytestmark = pytest.mark.anyio

GET_RETRIES = 2
RETRY_AFTER = 7  # the simulator's Retry-After / X-RateLimit-Reset, distinct from any default
TIMEOUT = 0.05  # the gateway's read timeout in the timeout cases
SLOW_BODY = 1.0  # the body trickles in 10 pieces: 0.1 s apart, twice the read timeout
HEADER_DELAY = 0.5
PLENTY = 10  # faults queued per case: more than any bounded retry loop may use
HOST_SETTINGS: dict[HostName, str] = {
    "api": "api_base_url",
    "llm_gateway": "llm_gateway_base_url",
    "streaming": "streaming_base_url",
    "agents": "agents_base_url",
    "sync": "sync_base_url",
    "dictation": "dictation_base_url",
    "tts": "tts_base_url",
    "token": "token_base_url",
}


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str
    status: int | None
    retried_on_get: bool
    timeout: bool = False
    after_sending: bool = False
    """Upstream got the whole request and ran it; only the answer went missing."""


FAULTS = (
    Fault("429", "rate_limited", 429, False),
    Fault("429-date", "rate_limited", 429, False),
    Fault("500", "upstream_unavailable", 500, True),
    Fault("502", "upstream_unavailable", 502, True),
    Fault("503", "upstream_unavailable", 503, True),
    Fault("504", "upstream_unavailable", 504, True),
    Fault("malformed-json", "bad_response", 200, False),
    Fault("wrong-content-type", "bad_response", 200, False),
    Fault("slow-body", "timeout", None, True, timeout=True, after_sending=True),  # body too slow
    Fault("slow-headers", "timeout", None, True, timeout=True, after_sending=True),  # no answer in time
    Fault("reset", "connection_error", None, True, after_sending=True),  # half the body, then it drops
    Fault("refused", "connection_error", None, True),  # nothing listens on the port
)
SIMULATOR_FAULTS = {fault.name for fault in FAULTS} & set(FAULT_KINDS)


@dataclass(frozen=True)
class Target:
    """One upstream route a tool call goes through, and how the error names the failed step."""

    tool: str
    label: str
    host: HostName
    method: str
    path: str  # "{id}" stands for the call's transcript id
    first_call: bool = True
    choice: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    says: str = ""

    def args(self, spec: ToolSpec, transcript_id: str) -> dict[str, Any]:
        return {**minimal_args(spec, known_values(transcript_id), self.choice), **self.extra}

    def route(self, transcript_id: str) -> str:
        return self.path.replace("{id}", quote(transcript_id, safe=""))


# What each multi-step tool's error starts with when its own (spec) route fails.
SPEC_ROUTE_SAYS = {
    "transcribe": "Creating the transcript failed",
    "ask_transcript": "Asking claude-sonnet-4-6 through the LLM Gateway failed",
    "search": "Listing recent transcripts failed",
    "fetch": "Reading transcript {id} failed",
}
# ... and when the request went out but its answer was lost.
SAYS_WHEN_UNKNOWN = {"Creating the transcript failed": "Creating the transcript may have succeeded"}
# Earlier and later steps of the multi-step tools, faulted one at a time.
STAGES = (
    Target("transcribe", "transcribe/upload", "api", "POST", "/v2/upload", True, {"data_base64": CLIP},
           says="Upload failed, so no transcript was created"),
    Target("transcribe", "transcribe/create-after-upload", "api", "POST", "/v2/transcript", False,
           {"data_base64": CLIP}, says="Creating the transcript failed"),
    Target("transcribe", "transcribe/poll", "api", "GET", "/v2/transcript/", False,
           says="Transcript "),
    Target("transcribe", "transcribe/sync", "sync", "POST", "/sync/v1/transcribe/live", True,
           {"data_base64": CLIP, "prefer": "speed"}, says="The Sync API did not transcribe the clip"),
    Target("ask_transcript", "ask_transcript/read", "api", "GET", "/v2/transcript/{id}",
           says="Reading transcript {id} failed"),
    Target("ask_transcript", "ask_transcript/sentences", "api", "GET", "/v2/transcript/{id}/sentences", False,
           extra={"context": "sentences"}, says="Reading the sentences of transcript {id} failed"),
    Target("ask_transcript", "ask_transcript/vtt", "api", "GET", "/v2/transcript/{id}/vtt", False,
           extra={"context": "vtt"}, says="Reading the vtt of transcript {id} failed"),
    Target("search", "search/word-search", "api", "GET", "/v2/transcript/{id}/word-search", False,
           says="Searching transcript {id} failed"),
)  # fmt: skip


# Their calls are made later (the link upload, whose faults tests/test_upload_links.py injects).
LATER_CALL_TOOLS = faults.later_call_tools()
LOCAL_TOOLS = faults.local_tools()


def spec_targets(catalog: Catalog | None = None) -> list[Target]:
    """One target per tool: the route its parameters mirror (its only one, for a plain tool)."""
    return [
        Target(
            spec.name,
            spec.name,
            spec.route.host,
            spec.route.method,
            SIMULATOR_PREFIXES.get(spec.route.host, "") + spec_path(spec),
            says=SPEC_ROUTE_SAYS.get(spec.name, ""),
        )
        for spec in (catalog or faults.catalog()).tools.values()
        if spec.calls_upstream_in_call
    ]


def spec_path(spec: ToolSpec) -> str:
    """The spec's path with its transcript id left to fill in, and other path values minimal."""
    values = {name: "{id}" for name in spec.params.path if name in ("transcript_id", "id")}
    for name, param in spec.params.path.items():
        values.setdefault(name, str((param.enum or ["x"])[0]))
    return spec.route.path.format(**values)


CASES = [
    pytest.param(target, fault, id=f"{target.label}-{fault.name}")
    for target in [*spec_targets(), *STAGES]
    for fault in FAULTS
    if target.first_call or fault.name != "refused"  # a refused host fails its first call, not a later one
]


@dataclass
class Live:
    url: str
    sim: Simulator
    delay: HeaderDelay
    refused_url: str
    setup: httpx.Client

    def fresh_transcript(self) -> str:
        """Forget everything, then one completed transcript every tool can work on."""
        self.sim.reset()
        created = self.setup.post("/v2/transcript", json=faults.TRANSCRIPT_BODY).raise_for_status().json()
        self.sim.requests.clear()
        return str(created["id"])

    def seen(self, method: str, path_prefix: str) -> int:
        return sum(1 for r in self.sim.requests if r.method == method and r.path.startswith(path_prefix))


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    config = SimulatorConfig(
        api_key=CANARY_KEY, processing_delay_seconds=0.0, retry_after_seconds=RETRY_AFTER
    )
    app = build_simulator_app(config)
    delay = HeaderDelay(app)
    with faults.serve_app_in_thread(delay) as url, faults.refusing_port() as refused:
        with httpx.Client(base_url=url, headers={"Authorization": CANARY_KEY}) as setup:
            yield Live(url, app.state.simulator, delay, refused, setup)


@pytest.fixture(autouse=True)
def fast_gateways(monkeypatch: pytest.MonkeyPatch) -> None:
    """The matrix builds ~300 gateways: load the catalog once, and build one TLS context (the CA
    bundle, ~45 ms each) instead of one per Upstream. Every upstream URL here is plain http."""
    monkeypatch.setattr("aai_mcp.gateway.load_default_catalog", faults.catalog)
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *args, **kwargs: faults.ssl_context())


def gateway_for(live: Live, target: Target, fault: Fault, catalog: Catalog | None = None) -> Gateway:
    refused_host = target.host if fault.name == "refused" else None
    settings = settings_for(live.url, live.refused_url, refused_host, fault.timeout)
    return build_gateway(settings, transport=faults.real_transport(), catalog=catalog)


@functools.cache
def settings_for(url: str, refused_url: str, refused_host: str | None, short_timeouts: bool) -> Settings:
    """Settings per kind of case, built once (reading the environment costs ~15 ms a time)."""
    urls = {
        setting: (refused_url if host == refused_host else url) + SIMULATOR_PREFIXES.get(host, "")
        for host, setting in HOST_SETTINGS.items()
    }
    timeouts = {"timeout_seconds": TIMEOUT, "upload_timeout_seconds": TIMEOUT} if short_timeouts else {}
    return make_settings(
        **urls,
        **timeouts,
        get_retries=GET_RETRIES,
        wait_poll_initial_seconds=0.01,
        wait_poll_max_seconds=0.03,
    )


def inject(live: Live, target: Target, fault: Fault, route: str) -> None:
    if fault.name in SIMULATOR_FAULTS:
        delay = SLOW_BODY if fault.name == "slow-body" else None
        live.sim.queue_fault(fault.name, PLENTY, path_prefix=route, method=target.method, delay_seconds=delay)
    elif fault.name == "slow-headers":
        live.delay.hold(target.method, route, HEADER_DELAY, PLENTY)


def heal(live: Live, gateway: Gateway, target: Target) -> None:
    live.sim.faults.clear()
    live.delay.clear()
    # The refused host is back (sync and dictation under their simulator prefixes).
    gateway.upstream._clients[target.host].base_url = httpx.URL(
        live.url + SIMULATOR_PREFIXES.get(target.host, "")
    )
    # The timeout cases shrink the read timeout to 50 ms; a healthy call on a loaded machine can take
    # longer than that, and the point here is only that the same gateway serves the next call.
    relaxed = {"timeout_seconds": 30.0, "upload_timeout_seconds": 30.0}
    gateway.upstream.settings = gateway.settings.model_copy(update=relaxed)
    for client in gateway.upstream._clients.values():
        client.timeout = httpx.Timeout(30.0)


def expected_attempts(target: Target, fault: Fault) -> int:
    return 1 + GET_RETRIES if target.method == "GET" and fault.retried_on_get else 1


def expected_rate_limit(target: Target, fault: Fault) -> dict[str, int]:
    if fault.kind != "rate_limited":
        return {}
    if target.host == "llm_gateway":  # X-RateLimit-* on every gateway answer
        return {
            "ratelimit-limit": 30,
            "ratelimit-remaining": 0,
            "ratelimit-reset": RETRY_AFTER,
            "retry_after_seconds": RETRY_AFTER,
        }
    return {"ratelimit-reset": RETRY_AFTER, "retry_after_seconds": RETRY_AFTER}


def check_error(result: Any, target: Target, fault: Fault, transcript_id: str) -> None:
    text = result.content[0].text
    assert result.is_error, text
    error = error_details(result)
    assert (error["kind"], error["status"], error["retryable"]) == (fault.kind, fault.status, True), error
    assert error["message"] in text and "AssemblyAI" in error["message"]
    says = target.says
    if fault.after_sending and target.method != "GET":
        assert "may have carried it out" in error["message"], error["message"]
        says = SAYS_WHEN_UNKNOWN.get(says, says)
    if says:
        assert error["message"].startswith(says.replace("{id}", transcript_id)), error["message"]
    if target.label == "transcribe/poll":
        assert error["transcript_id"] and "wait_for_transcript" in error["message"]
    check_rate_limit(result, target, fault)
    assert CANARY_KEY not in text and CANARY_KEY not in repr(result.structured_content)


def check_rate_limit(result: Any, target: Target, fault: Fault) -> None:
    """The normalized values, the same in the error and in _meta, and nothing when there was no 429."""
    want = expected_rate_limit(target, fault)
    meta = (result.meta or {}).get(META_RATE_LIMIT)
    if not want:
        assert meta is None, meta
        return
    got: dict[str, Any] = {key: error_details(result).get(key) for key in want}
    assert meta == got
    slack = 1 if fault.name == "429-date" else 0  # an HTTP date has whole seconds: the delta may round down
    for key, value in want.items():
        assert value - slack <= got[key] <= value, (key, got)


def test_the_matrix_covers_every_tool_and_every_fault() -> None:
    covered = {(case.values[0].tool, case.values[1].name) for case in CASES}  # type: ignore[union-attr]
    tools = set(faults.catalog().tools) - faults.tools_without_upstream_in_call()
    assert {"search_api_reference", "get_api_reference"} <= LOCAL_TOOLS  # test_local_tool_ignores_upstream
    assert covered == {(tool, fault.name) for tool in tools for fault in FAULTS}
    assert {"create_upload_link", "wait_for_upload"} <= LATER_CALL_TOOLS  # faults: the link upload's
    assert set(FAULT_KINDS) <= {fault.name for fault in FAULTS}, "a new simulator fault needs a row"
    for spec in faults.catalog().tools.values():
        assert ArgumentValidator(spec).problem(minimal_args(spec, known_values("abc123"))) is None, spec.name


def check_work_done_once(live: Live) -> None:
    """Upstream ran every request it got exactly once: one job per create, one file per upload."""
    assert len(live.sim.transcripts) == 1 + live.seen("POST", "/v2/transcript")
    assert len(live.sim.uploads) == live.seen("POST", "/v2/upload")


@pytest.mark.parametrize(("target", "fault"), CASES)
async def test_fault(live: Live, target: Target, fault: Fault) -> None:
    await check_fault(live, target, fault)


async def check_fault(live: Live, target: Target, fault: Fault, catalog: Catalog | None = None) -> None:
    """One tool x one fault: the error, bounded attempts, then the same gateway serves it again and
    leaves nothing behind. `catalog`: the tools to serve (the shipped ones by default)."""
    spec = (catalog or faults.catalog()).tools[target.tool]
    transcript_id = live.fresh_transcript()
    args, route = target.args(spec, transcript_id), target.route(transcript_id)
    fds = open_fds()
    gateway = gateway_for(live, target, fault, catalog)
    outbound = Outbound()
    outbound.attach(gateway.upstream)
    try:
        async with Client(build_server(gateway)) as client:
            tasks = task_count()
            inject(live, target, fault, route)
            result = await client.call_tool(target.tool, args)
            check_error(result, target, fault, transcript_id)

            attempts = expected_attempts(target, fault)
            assert outbound.count(target.host, target.method, route) == attempts
            assert live.seen(target.method, route) == (0 if fault.name == "refused" else attempts)
            if fault.after_sending:
                check_work_done_once(live)

            heal(live, gateway, target)
            again = await client.call_tool(target.tool, args)
            assert not again.is_error, again.content[0].text  # type: ignore[union-attr]
            assert await settle(lambda: not busy_connections(gateway.upstream)), busy_connections(
                gateway.upstream
            )
            assert await settle(lambda: task_count() <= tasks), (task_count(), tasks)
    finally:
        await gateway.aclose()
    assert all(not pool.connections for pool in pools(gateway.upstream))
    assert await settle(lambda: open_fds() <= fds), (open_fds(), fds)


@pytest.mark.parametrize("retries", [0, 1, 4])
@pytest.mark.parametrize("fault", ["503", "reset"])
async def test_get_retries_are_bounded_by_the_setting(live: Live, retries: int, fault: str) -> None:
    transcript_id = live.fresh_transcript()
    route = f"/v2/transcript/{transcript_id}"
    settings = make_settings(api_base_url=live.url, get_retries=retries)
    gateway = build_gateway(settings, transport=faults.real_transport())
    try:
        async with Client(build_server(gateway)) as client:
            live.sim.queue_fault(fault, PLENTY, path_prefix=route, method="GET")
            failed = await client.call_tool("get_transcript", {"transcript_id": transcript_id})
            assert failed.is_error and live.seen("GET", route) == 1 + retries
            live.sim.faults.clear()
            if retries:
                live.sim.queue_fault(fault, retries, path_prefix=route, method="GET")
            recovered = await client.call_tool("get_transcript", {"transcript_id": transcript_id})
            assert not recovered.is_error  # the last allowed attempt got through
            assert live.seen("GET", route) == 1 + retries + 1 + retries
    finally:
        await gateway.aclose()


@pytest.mark.parametrize(
    ("tool", "method", "attempts"), [("get_transcript", "GET", 3), ("create_transcript", "POST", 1)]
)
async def test_refused_with_httpx_default_transport(
    live: Live, tool: str, method: str, attempts: int
) -> None:
    """No transport given: the gateway builds its own, as in production, and the port refuses."""
    transcript_id = live.fresh_transcript()
    gateway = build_gateway(make_settings(api_base_url=live.refused_url, get_retries=2))
    outbound = Outbound()
    outbound.attach(gateway.upstream)
    try:
        async with Client(build_server(gateway)) as client:
            spec = faults.catalog().tools[tool]
            result = await client.call_tool(tool, minimal_args(spec, known_values(transcript_id)))
    finally:
        await gateway.aclose()
    error = error_details(result)
    assert result.is_error and (error["kind"], error["retryable"]) == ("connection_error", True)
    assert "could not be reached" in error["message"]
    assert [sent.method for sent in outbound.sent] == [method] * attempts
    assert all(not pool.connections for pool in pools(gateway.upstream))


async def test_a_download_that_breaks_mid_way_is_blamed_on_the_download(live: Live) -> None:
    """upload_file(url) streams a download into /v2/upload: when the source drops, the error names the
    download, not AssemblyAI (whose upload only saw a truncated body and stored nothing)."""

    async def source(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"200000")]}
        )
        await send({"type": "http.response.body", "body": b"RIFF" + bytes(50_000), "more_body": True})
        raise RuntimeError("the source drops the connection")

    live.fresh_transcript()
    settings = make_settings(api_base_url=live.url, upload_allow_private_urls=True)
    gateway = build_gateway(settings, transport=faults.real_transport())
    with faults.serve_app_in_thread(source) as media:
        try:
            async with Client(build_server(gateway)) as client:
                result = await client.call_tool("upload_file", {"url": f"{media}/episode.wav"})
        finally:
            await gateway.aclose()
    message = error_details(result)["message"]
    assert result.is_error and message.startswith("Downloading the URL failed"), message
    assert live.seen("POST", "/v2/upload") == 1 and not live.sim.uploads


@pytest.mark.parametrize("tool", sorted(LOCAL_TOOLS))
async def test_local_tool_ignores_upstream(tool: str) -> None:
    """A local tool's row of the matrix: whatever upstream does (here every request fails at once),
    it answers from the package and sends nothing."""
    sent: list[httpx.Request] = []

    def broken(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise httpx.ConnectError("upstream is down", request=request)

    gateway = build_gateway(make_settings(), transport=httpx.MockTransport(broken))
    spec = faults.catalog().tools[tool]
    try:
        async with Client(build_server(gateway)) as client:
            result = await client.call_tool(tool, faults.minimal_args(spec, faults.known_values("abc123")))
    finally:
        await gateway.aclose()
    assert not result.is_error, result.content
    assert not sent
    assert CANARY_KEY not in str(result.content) + repr(result.structured_content)
