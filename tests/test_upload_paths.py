"""upload_file(path) and transcribe(path): bounded paths, no links followed, no blocking on the loop."""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import anyio
import anyio.to_thread
import httpx
import pytest
from mcp.client import Client

from aai_mcp.caller_input import ToolInputError
from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.handlers import safe_open
from aai_mcp.mcp_server.handlers.safe_open import MAX_PATH_CHARS, MAX_PATH_COMPONENTS, open_beneath_roots
from tests.support import error_details, make_settings, wav_bytes
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.anyio

CDN = "https://cdn.assemblyai.com/upload/abc"
INSIDE, OUTSIDE = b"RIFF inside the root", b"RIFF OUTSIDE SECRET"


class FakeUpstream(httpx.AsyncBaseTransport):
    """AssemblyAI's /v2/upload, keeping every body it receives."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(await request.aread())
        return httpx.Response(200, json={"upload_url": CDN})


@pytest.fixture(params=["openat2", "walk", "walk-without-proc"])
def opener(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with the kernel's openat2, with the O_NOFOLLOW walk used where it is missing, and
    with the walk opening for reading at once where no O_PATH descriptor can be reopened (no /proc)."""
    if request.param != "openat2":
        monkeypatch.setattr(safe_open, "openat2_beneath", lambda *args: None)
    if request.param == "walk-without-proc":
        monkeypatch.setattr(safe_open, "_reopens", lambda: False)
    return str(request.param)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "d").mkdir(parents=True)
    outside.mkdir()
    (root / "d" / "a.wav").write_bytes(INSIDE)
    (outside / "a.wav").write_bytes(OUTSIDE)
    (root / "abs-link.wav").symlink_to(outside / "a.wav")  # absolute target
    (root / "rel-link.wav").symlink_to(Path("..") / "outside" / "a.wav")  # relative, via ..
    (root / "inner-link.wav").symlink_to(Path("d") / "a.wav")  # stays inside, still a link
    (root / "dir-link").symlink_to(outside)
    yield tmp_path


def refusal(raw: str, roots: list[Path]) -> str:
    with pytest.raises(ToolInputError) as caught:
        open_beneath_roots(raw, roots)
    return str(caught.value)


@pytest.mark.usefixtures("opener")
def test_links_and_dotdot_are_never_followed(tree: Path) -> None:
    root = tree / "root"
    for name in ["abs-link.wav", "rel-link.wav", "inner-link.wav", "dir-link/a.wav", "d/../../outside/a.wav"]:
        assert "outside the allowed upload roots" in refusal(str(root / name), [root]), name
    opened = open_beneath_roots(str(root / "d" / "a.wav"), [root])
    with opened.handle:
        assert opened.handle.read() == INSIDE and opened.size == len(INSIDE)


@pytest.mark.usefixtures("opener")
def test_only_regular_files_are_opened(tree: Path) -> None:
    root = tree / "root"
    os.mkfifo(root / "fifo.wav")  # opening it must not wait for a writer
    for name in ["fifo.wav", "d", "missing.wav", "d/a.wav/x", ""]:
        assert "No readable file" in refusal(f"{root}/{name}", [root]), name


def test_a_root_given_through_a_link_still_works(tree: Path) -> None:
    (tree / "root-alias").symlink_to(tree / "root")  # the operator's own links are trusted
    for raw in [tree / "root-alias" / "d" / "a.wav", tree / "root" / "d" / "a.wav"]:
        opened = open_beneath_roots(str(raw), [tree / "root-alias"])
        opened.handle.close()


def test_paths_are_bounded_before_the_filesystem_is_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_filesystem(*args: Any) -> Any:
        raise AssertionError("the filesystem was touched")

    monkeypatch.setattr(safe_open, "_root_forms", no_filesystem)
    monkeypatch.setattr(safe_open, "_open_in", no_filesystem)
    too_long = "/r/" + "b" * MAX_PATH_CHARS
    assert f"limit is {MAX_PATH_CHARS}" in refusal(too_long, [Path("/r")])
    too_deep = "/r" + "/b" * MAX_PATH_COMPONENTS
    assert f"more than {MAX_PATH_COMPONENTS} components" in refusal(too_deep, [Path("/r")])
    assert "NUL" in refusal("/r/a\x00.wav", [Path("/r")])
    message = refusal("/r/" + "b/" * 1_000_000, [Path("/r")])
    assert len(message) < 200  # quotes none of the path


async def test_a_swapped_directory_never_sends_outside_content(tree: Path, opener: str) -> None:
    """A thread keeps swapping root/d for a symlink to outside/ while uploads of root/d/a.wav run."""
    root, stop = tree / "root", threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.rename(root / "d", root / "real")
            os.symlink(tree / "outside", root / "d")
            os.unlink(root / "d")
            os.rename(root / "real", root / "d")

    upstream = FakeUpstream()
    gateway = build_gateway(make_settings(upload_roots=[root]), transport=upstream)
    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    try:
        async with Client(build_server(gateway)) as client:
            for _ in range(150):
                result = await client.call_tool("upload_file", {"path": str(root / "d" / "a.wav")})
                assert result.is_error or result.structured_content["size_bytes"] == len(INSIDE)
    finally:
        stop.set()
        swapper.join(timeout=10)
        await gateway.aclose()
    assert OUTSIDE not in upstream.bodies, f"outside content relayed ({opener})"
    assert set(upstream.bodies) <= {INSIDE}


async def test_transcribe_refuses_links_too(tree: Path) -> None:
    gateway = build_gateway(make_settings(upload_roots=[tree / "root"]), transport=FakeUpstream())
    try:
        async with Client(build_server(gateway)) as client:
            result = await client.call_tool("transcribe", {"path": str(tree / "root" / "dir-link" / "a.wav")})
    finally:
        await gateway.aclose()
    assert result.is_error and "outside the allowed upload roots" in result.content[0].text  # type: ignore[union-attr]


async def test_a_read_error_mid_file_is_a_tool_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class FailingDisk(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise OSError(5, "Input/output error", str(tmp_path / "a.wav"))

    failing = safe_open.OpenedFile(handle=cast(BinaryIO, FailingDisk()), size=1000)
    monkeypatch.setattr("aai_mcp.mcp_server.handlers.uploads.open_beneath_roots", lambda raw, roots: failing)
    gateway = build_gateway(make_settings(upload_roots=[tmp_path]), transport=FakeUpstream())
    try:
        async with Client(build_server(gateway)) as client:
            result = await client.call_tool("upload_file", {"path": str(tmp_path / "a.wav")})
    finally:
        await gateway.aclose()
    assert error_details(result)["kind"] == "invalid_arguments"
    assert "failed mid-way" in result.content[0].text and str(tmp_path) not in result.content[0].text
    assert failing.handle.closed


# --- a real server: one path must not hold up anyone else ---------------------------------------


async def test_a_huge_path_is_refused_and_healthz_keeps_answering(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    huge = str(tmp_path) + "/b" * 1_000_000  # the 2 MB probe that once froze the loop for 93 s
    caplog.set_level(logging.DEBUG)
    settings = make_settings(api_key=None, simulator_delay_seconds=0.0, upload_roots=[tmp_path])
    with serve_in_thread(settings) as base:
        async with Client(f"{base}/mcp") as client, httpx.AsyncClient(base_url=base, timeout=10) as http:
            results: dict[str, Any] = {}

            async def huge_calls() -> None:
                for tool in ("upload_file", "transcribe"):
                    results[tool] = await client.call_tool(tool, {"path": huge})

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(huge_calls)
                while len(results) < 2:
                    with anyio.fail_after(10):  # every health check answers while the calls run
                        assert (await http.get("/healthz")).status_code == 200
    for result in results.values():
        assert error_details(result)["kind"] == "invalid_arguments"
        assert "limit is 4096" in result.content[0].text and len(result.content[0].text) < 300
    # The server's own log lines (the test's MCP client logs its requests at DEBUG, the path included).
    server_lines = [r for r in caplog.records if not r.name.startswith("mcp.client")]
    leaked = {r.name for r in server_lines if "b/b/b/b" in r.getMessage()}
    assert not leaked, leaked


async def test_filesystem_work_runs_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path whose open blocks (a hung NFS mount) holds only its own call: /healthz still answers."""
    (tmp_path / "a.wav").write_bytes(wav_bytes(0.1))
    entered, release = threading.Event(), threading.Event()

    def hung_open(raw: str, roots: list[Path]) -> safe_open.OpenedFile:
        entered.set()
        assert release.wait(timeout=60)
        return open_beneath_roots(raw, roots)

    monkeypatch.setattr("aai_mcp.mcp_server.handlers.uploads.open_beneath_roots", hung_open)
    settings = make_settings(api_key=None, simulator_delay_seconds=0.0, upload_roots=[tmp_path])
    with serve_in_thread(settings) as base:
        async with Client(f"{base}/mcp") as client, httpx.AsyncClient(base_url=base, timeout=10) as http:
            result: list[Any] = []

            async def upload() -> None:
                result.append(await client.call_tool("upload_file", {"path": str(tmp_path / "a.wav")}))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(upload)
                assert await anyio.to_thread.run_sync(entered.wait, 30)
                assert (await http.get("/healthz")).status_code == 200  # while the open is hung
                release.set()
    assert not result[0].is_error, result[0].content
