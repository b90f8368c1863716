"""Hostile arguments are refused with a clear error before anything reaches upstream: SSRF spellings
and redirects, path escapes, oversize payloads, header injection, and ids that would move the route."""

from __future__ import annotations

import base64
import ipaddress
import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import httpx
import pytest
import respx
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.runtime.forward import upstream_path
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from aai_mcp.upstream.transcripts import transcript_path
from tests.support import CANARY_KEY, error_details, faults, make_settings, text_of, wav_bytes
from tests.support.faults import CLIP, Outbound, Sent, known_values, minimal_args
from tests.support.servers import serve_gateway_in_thread

pytestmark = pytest.mark.anyio

MEDIA = "https://media.example.com/ep1.mp3"
EVIL = "\r\nX-Evil: 1"


@dataclass
class Rig:
    gateway: Gateway
    sim: Simulator
    client: Client
    outbound: Outbound

    async def call(self, tool: str, args: dict[str, Any]) -> Any:
        return await self.client.call_tool(tool, args)

    async def fresh_transcript(self) -> str:
        """Reset the simulator (ids are minted from a seed, so they repeat) and make one transcript."""
        self.sim.reset()
        response = await self.gateway.upstream.request(
            "api", "POST", "/v2/transcript", json_body=faults.TRANSCRIPT_BODY
        )
        self.sim.requests.clear()
        self.outbound.sent.clear()
        return str(response.json()["id"])


@asynccontextmanager
async def make_rig(**settings: Any) -> AsyncIterator[Rig]:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    gateway = build_gateway(make_settings(**settings), transport=httpx.ASGITransport(app=app))
    outbound = Outbound()
    outbound.attach(gateway.upstream)
    try:
        async with Client(build_server(gateway)) as client:
            yield Rig(gateway, app.state.simulator, client, outbound)
    finally:
        await gateway.aclose()


@pytest.fixture(autouse=True)
def cached_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aai_mcp.gateway.load_default_catalog", faults.catalog)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with make_rig() as made:
        yield made


def refused(result: Any, rig: Rig, *needles: str, kinds: tuple[str, ...] = ("invalid_arguments",)) -> None:
    """An isError result of one of `kinds` saying why, not retryable, and not one request upstream."""
    assert result.is_error, text_of(result)
    error = error_details(result)
    assert error["kind"] in kinds and error["retryable"] is False, error
    assert any(needle in text_of(result) for needle in needles), text_of(result)
    assert not rig.sim.requests and not rig.outbound.sent


# --- upload_file(url): SSRF ----------------------------------------------------------------------

# Fake DNS: media.example.com and cdn.example.com are public; rebind.example answers public AND
# private; every other name is inside the network.
FAKE_DNS = {
    "media.example.com": ["93.184.216.34"],
    "cdn.example.com": ["93.184.216.35"],
    "rebind.example": ["93.184.216.34", "10.0.0.5"],
}


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(hostname: str, port: int) -> list[Any]:
        return [ipaddress.ip_address(a) for a in FAKE_DNS.get(hostname, ["10.1.2.3"])]

    monkeypatch.setattr("aai_mcp.upstream.netguard.resolve", resolve)


URL_REFUSED = ("url_refused",)
PRIVATE_URLS = [
    "http://127.0.0.1/a.mp3",
    "http://localhost:8080/a.mp3",
    "http://[::1]/a.mp3",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.8/a.mp3",
    "http://172.16.5.4/a.mp3",
    "http://192.168.1.1/a.mp3",
    "http://2130706433/a.mp3",  # decimal 127.0.0.1
    "http://0x7f000001/a.mp3",  # hex
    "http://0177.0.0.1/a.mp3",  # octal
    "http://127.1/a.mp3",  # short form
    "http://0/a.mp3",
    "http://[::]/a.mp3",
    "http://[::ffff:127.0.0.1]/a.mp3",  # IPv4-mapped
    "http://[::ffff:a9fe:a9fe]/latest",  # IPv4-mapped metadata address
    "http://[::127.0.0.1]/a.mp3",  # IPv4-compatible
    "http://[64:ff9b::127.0.0.1]/a.mp3",  # NAT64
    "http://[64:ff9b::a9fe:a9fe]/latest",
    "http://[2002:7f00:1::]/a.mp3",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::]/latest",
    "http://[fd00::1]/a.mp3",
    "http://[fe80::1]/a.mp3",
    "http://100.64.0.1/a.mp3",  # carrier-grade NAT
    "https://127.0.0.1:443/a.mp3",
    "http://①②⑦.0.0.1/a.mp3",  # NFKC digits: the resolver reads 127.0.0.1
    "http://１２７.０.０.１/a.mp3",  # full-width digits
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_private_addresses_are_refused(rig: Rig, respx_mock: respx.MockRouter, url: str) -> None:
    result = await rig.call("upload_file", {"url": url})
    # Octal and non-ASCII digit spellings do not even parse as URLs: refused as invalid arguments.
    refused(result, rig, "Refused", kinds=(*URL_REFUSED, "invalid_arguments"))
    assert not respx_mock.calls


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///etc/passwd", "url"),
        ("gopher://127.0.0.1:25/", "url"),
        ("ftp://media.example.com/a.mp3", "url"),
        ("https://user:secret@media.example.com/a.mp3", "credentials"),
        (f"{MEDIA}{EVIL}", "not a valid URL"),
        ("https://media.example.com\r\n.evil/a.mp3", "not a valid URL"),
        ("http:///a.mp3", "with a host"),
    ],
)
@pytest.mark.usefixtures("fake_dns")
async def test_urls_that_are_not_plain_http_are_refused(
    rig: Rig, respx_mock: respx.MockRouter, url: str, says: str
) -> None:
    result = await rig.call("upload_file", {"url": url})
    refused(result, rig, says)
    assert not respx_mock.calls


@pytest.mark.parametrize("host", ["internal.corp", "rebind.example", "metadata.google.internal"])
@pytest.mark.usefixtures("fake_dns")
async def test_names_that_resolve_inside_the_network_are_refused(
    rig: Rig, respx_mock: respx.MockRouter, host: str
) -> None:
    target = respx_mock.get(f"http://{host}/x").respond(200, content=b"secret")
    result = await rig.call("upload_file", {"url": f"http://{host}/x"})
    refused(result, rig, "Refused", kinds=URL_REFUSED)
    assert not target.called


@pytest.mark.parametrize(
    "location",
    [
        "http://internal.corp/x",
        "http://127.0.0.1:9000/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433/x",
        "//internal.corp/x",  # scheme-relative
        "https://cdn.example.com/hop",  # public, but it redirects inside next
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
    ],
)
@pytest.mark.usefixtures("fake_dns")
async def test_redirects_into_the_network_are_refused(
    rig: Rig, respx_mock: respx.MockRouter, location: str
) -> None:
    first = respx_mock.get(MEDIA).respond(302, headers={"Location": location})
    hop = respx_mock.get("https://cdn.example.com/hop").respond(301, headers={"Location": "http://10.9.9.9/"})
    inside = [
        respx_mock.route(host=host).respond(200, content=b"secret")
        for host in ("internal.corp", "127.0.0.1", "::1", "169.254.169.254", "10.9.9.9")
    ]
    result = await rig.call("upload_file", {"url": MEDIA})
    # An inside host is url_refused; a scheme that is not http(s) is an invalid URL.
    refused(result, rig, "Refused", "Only http(s)", kinds=(*URL_REFUSED, "invalid_arguments"))
    assert first.call_count == 1 and hop.call_count == (1 if "cdn" in location else 0)
    assert not any(route.called for route in inside)


@pytest.mark.usefixtures("fake_dns")
async def test_redirect_loops_are_cut_off(rig: Rig, respx_mock: respx.MockRouter) -> None:
    loop = respx_mock.get(MEDIA).respond(302, headers={"Location": MEDIA})
    refused(await rig.call("upload_file", {"url": MEDIA}), rig, "redirects", kinds=("download_rejected",))
    assert loop.call_count == 6  # the first request and five redirects, then no more


@pytest.mark.usefixtures("fake_dns")
async def test_a_public_url_still_works(rig: Rig, respx_mock: respx.MockRouter) -> None:
    audio = wav_bytes(0.1)
    respx_mock.get(MEDIA).respond(200, content=audio)
    result = await rig.call("upload_file", {"url": MEDIA})
    assert not result.is_error, text_of(result)
    assert [(s.method, s.path) for s in rig.outbound.sent] == [("POST", "/v2/upload")]


# --- upload_file(path) and data_base64 -----------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """root/ (the upload root) with a real file, links out of it, and secrets beside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "ok.wav").write_bytes(wav_bytes(0.1))
    (outside / "secret.wav").write_bytes(b"RIFF secret")
    (tmp_path / "root-evil").mkdir()
    (tmp_path / "root-evil" / "x.wav").write_bytes(b"RIFF sibling")
    (root / "file-link.wav").symlink_to(outside / "secret.wav")
    (root / "dir-link").symlink_to(outside)
    (root / "sub").mkdir()
    os.mkfifo(root / "fifo.wav")
    yield tmp_path


def escapes(tree: Path) -> list[str]:
    root = tree / "root"
    return [
        str(root / ".." / "outside" / "secret.wav"),
        str(root / "sub" / ".." / ".." / "outside" / "secret.wav"),
        str(tree / "outside" / "secret.wav"),
        str(root / "file-link.wav"),
        str(root / "dir-link" / "secret.wav"),
        str(tree / "root-evil" / "x.wav"),  # shares the root's name as a string prefix
        "/etc/passwd",
        "/proc/self/environ",
        "~/.ssh/id_rsa",
        "../outside/secret.wav",
    ]


async def test_paths_that_leave_the_roots_are_refused(tree: Path) -> None:
    async with make_rig(upload_roots=[tree / "root"]) as rig:
        for raw in escapes(tree):
            refused(await rig.call("upload_file", {"path": raw}), rig, "outside the allowed upload roots")
            refused(await rig.call("transcribe", {"path": raw}), rig, "outside the allowed upload roots")
        for raw in [
            str(tree / "root" / "sub"),
            str(tree / "root" / "fifo.wav"),
            str(tree / "root" / "no.wav"),
        ]:
            refused(await rig.call("upload_file", {"path": raw}), rig, "No readable file")
        refused(await rig.call("upload_file", {"path": f"{tree}/root/ok\x00.wav"}), rig, "path")
        ok = await rig.call("upload_file", {"path": str(tree / "root" / "ok.wav")})
        assert not ok.is_error, text_of(ok)


async def test_oversize_and_bad_base64_is_refused() -> None:
    cap = 2000
    async with make_rig(upload_max_base64_bytes=cap) as rig:
        over = base64.b64encode(os.urandom(cap + 1)).decode()
        huge = "A" * (4 * 1024 * 1024)
        for tool in ("upload_file", "transcribe"):
            refused(await rig.call(tool, {"data_base64": over}), rig, str(cap))
            refused(await rig.call(tool, {"data_base64": huge}), rig, str(cap))
            refused(await rig.call(tool, {"data_base64": "UklGRg== \n"}), rig, "base64")
            refused(await rig.call(tool, {"data_base64": "////"[:3]}), rig, "base64")
        fits = base64.b64encode(os.urandom(cap)).decode()
        assert not (await rig.call("upload_file", {"data_base64": fits})).is_error


# --- the MCP endpoint itself ---------------------------------------------------------------------


MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def initialize(padding: int) -> bytes:
    return (
        b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", '
        b'"capabilities": {}, "clientInfo": {"name": "t", "version": "1"}, "pad": "' + b"x" * padding + b'"}}'
    )


async def test_an_oversize_request_body_gets_413_and_the_server_keeps_serving() -> None:
    limit = 4096
    gateway = build_gateway(make_settings(api_key=None, max_request_body_bytes=limit))
    with serve_gateway_in_thread(gateway) as base:
        async with httpx.AsyncClient(base_url=base, headers=MCP_HEADERS, timeout=10) as http:
            sized = await http.post("/mcp", content=initialize(limit * 4))
            assert sized.status_code == 413, sized.text

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts bytes read
                body = initialize(limit * 4)
                for start in range(0, len(body), 1024):
                    yield body[start : start + 1024]

            streamed = await http.post("/mcp", content=chunks())
            assert streamed.status_code == 413, streamed.text
            sse = await http.post(
                "/messages/?session_id=00000000000000000000000000000000", content=b"x" * limit * 4
            )
            assert sse.status_code == 413, sse.text
            assert (await http.get("/healthz")).status_code == 200
        async with Client(f"{base}/mcp") as client:
            listed = await client.call_tool("list_transcripts", {})
            assert not listed.is_error


# --- CR/LF in every string argument --------------------------------------------------------------

SOURCES = {"path", "url", "data_base64", "audio_url"}


async def call_with(rig: Rig, tool: str, change: dict[str, Any], path_file: Path) -> tuple[Any, list[Sent]]:
    """`tool` on a fresh transcript with its minimal arguments, one of them replaced (or its source)."""
    spec = faults.catalog().tools[tool]
    transcript_id = await rig.fresh_transcript()
    known = {**known_values(transcript_id), "url": MEDIA, "path": str(path_file)}
    sources = SOURCES & change.keys() if tool in faults.ONE_OF_CHOICES else set()
    choice = {name: change[name] for name in sources} or None
    args = {**minimal_args(spec, known, choice), **{k: v for k, v in change.items() if k not in sources}}
    result = await rig.call(tool, args)
    return result, list(rig.outbound.sent)


def with_evil(tool: str, name: str, is_list: bool, transcript_id: str, path_file: Path) -> Any:
    spec = faults.catalog().tools[tool]
    known = {**known_values(transcript_id), "url": MEDIA, "path": str(path_file), "data_base64": CLIP}
    base = minimal_args(spec, known).get(name, known.get(name))
    if is_list:
        return [f"{(base or ['x'])[0]}{EVIL}"]
    return f"{base if isinstance(base, str) else 'x'}{EVIL}"


# They send nothing upstream during the call (an upload link's file arrives later, through the page,
# where a link that is not one is refused: tests/test_upload_links.py).
NO_UPSTREAM_IN_CALL = frozenset({"create_upload_link", "wait_for_upload"})


@pytest.mark.parametrize("tool", sorted(set(faults.catalog().tools) - NO_UPSTREAM_IN_CALL))
@pytest.mark.usefixtures("fake_dns")
async def test_no_argument_reaches_a_header_or_moves_the_path(
    tool: str, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(url__startswith="https://media.example.com/").respond(200, content=wav_bytes(0.1))
    audio = tmp_path / "a.wav"
    audio.write_bytes(wav_bytes(0.1))
    async with make_rig(upload_roots=[tmp_path]) as rig:
        baseline_result, baseline = await call_with(rig, tool, {}, audio)
        assert not baseline_result.is_error, text_of(baseline_result)
        transcript_id = await rig.fresh_transcript()  # the same id every time: the simulator is seeded
        names = {name.lower() for sent in baseline for name, _ in sent.headers}
        routes = {sent.raw_path.split(b"?")[0] for sent in baseline}
        for name, is_list in faults.string_params(faults.catalog().tools[tool]).items():
            value = with_evil(tool, name, is_list, transcript_id, audio)
            result, sent = await call_with(rig, tool, {name: value}, audio)
            assert result.is_error or result.structured_content is not None, (name, text_of(result))
            for request in sent:
                assert request.raw_path.split(b"?")[0] in routes, (name, request.raw_path)
                assert b"\r" not in request.raw_path and b"\n" not in request.raw_path
                assert {header.lower() for header, _ in request.headers} <= names, (name, request)
                assert all("\r" not in v and "\n" not in v and "Evil" not in v for _, v in request.headers)
        for call in respx_mock.calls:
            assert "x-evil" not in call.request.headers and b"\r" not in call.request.url.raw_path


# --- ids that would move the route ----------------------------------------------------------------

HOSTILE_IDS = ["../x", "..", ".", "a/../../v2/upload", "a?b=c", "a#b", "a%2Fb", "a%2F..%2Fb", "", " ", "a b",
               "a\r\nX-Evil: 1", "a\n", "a/b", "\\..\\x", "a;b", "%00", "a" * 129]  # fmt: skip


VALID_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def id_slots(tool: str) -> list[str]:
    spec = faults.catalog().tools[tool]
    names = ("transcript_id", "id", "before_id", "after_id", "transcript_ids")
    return [name for name in names if name in spec.all_params()]


ID_CASES = [
    pytest.param(tool, slot, id=f"{tool}-{slot}")
    for tool in sorted(faults.catalog().tools)
    for slot in id_slots(tool)
]


@pytest.mark.parametrize(("tool", "slot"), ID_CASES)
async def test_hostile_ids_are_refused_before_any_request(rig: Rig, tool: str, slot: str) -> None:
    spec = faults.catalog().tools[tool]
    for hostile in HOSTILE_IDS:
        args = minimal_args(spec, known_values(await rig.fresh_transcript()))
        args[slot] = [hostile] if slot == "transcript_ids" else hostile
        result = await rig.call(tool, args)
        refused(result, rig, f"Invalid argument '{slot}")


@pytest.mark.parametrize("hostile", [h for h in HOSTILE_IDS if "/" not in h] + ["../../v2/upload", "a/../b"])
async def test_hostile_ids_in_resource_uris_and_prompts_are_refused(rig: Rig, hostile: str) -> None:
    for suffix in ("", "/text", "/sentences", "/subtitles.vtt"):
        with pytest.raises(MCPError, match="transcript id|Unknown resource URI"):
            await rig.client.read_resource(f"assemblyai://transcripts/{hostile}{suffix}")
    if not VALID_ID.fullmatch(hostile.strip()):  # prompts strip their arguments first
        with pytest.raises(MCPError, match="not a transcript id|exactly one of"):
            await rig.client.get_prompt("podcast_show_notes", {"transcript_id": hostile})
    assert not rig.sim.requests and not rig.outbound.sent


def segment(value: str) -> str:
    """A value as one path segment: percent-encoded whole, dots too (".." would be a dot-segment)."""
    return quote(value, safe="").replace(".", "%2E")


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_path_builders_put_a_value_in_exactly_one_segment(hostile: str) -> None:
    """Behind the schema: whatever id reaches a path builder (one read back from upstream, say)
    becomes exactly one segment, dots included."""
    spec = faults.catalog().tools["get_sentences"]
    call = ToolCall(
        spec=spec, args={"transcript_id": hostile}, upstream=cast(Any, None), settings=make_settings()
    )
    for path in (upstream_path(call), transcript_path(hostile, "sentences")):
        url = httpx.Client(base_url="https://api.example").build_request("GET", path).url
        assert url.raw_path.decode() == f"/v2/transcript/{segment(hostile)}/sentences", (
            hostile,
            url.raw_path,
        )
