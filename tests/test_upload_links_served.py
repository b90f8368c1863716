"""Upload links end to end over real sockets: `aai-mcp serve` (its public URL its own loopback address)
in front of the standalone simulator, the agent's side through the mcp SDK client. curl -T sends a file
to a link; Debian's chromium, driven by Playwright, uploads a generated 50 MB WAV through the page with
the progress bar advancing to the done state, and screenshots are kept under test-artifacts/."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.servers import (
    ServerProcess,
    aai_mcp_command,
    free_port,
    server_process,
    simulator_env,
    standalone_simulator,
    upstream_args,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "upload-page"
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_FILE_BYTES = 50 * 1000 * 1000


@dataclass
class Served:
    gateway: ServerProcess
    simulator: ServerProcess


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    with standalone_simulator("--log-level", "WARNING") as simulator:
        flags = [*upstream_args(simulator.base_url), "--public-url", public]
        command = aai_mcp_command("serve", port, *flags)
        with server_process(command, port, simulator_env()) as gateway:
            yield Served(gateway, simulator)


@asynccontextmanager
async def agent(served: Served) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300))
    async with (
        http,
        Client(streamable_http_client(f"{served.gateway.base_url}/mcp", http_client=http)) as client,
    ):
        yield client


async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def wav_file(path: Path, size: int) -> Path:
    """A WAV of `size` bytes: a 16 kHz mono header, then a quiet tone (generated, nothing downloaded)."""
    header = b"RIFF" + (size - 8).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    header += (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (16000).to_bytes(4, "little")
    header += (32000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    header += b"data" + (size - 44).to_bytes(4, "little")
    block = bytes((i * 7) % 256 for i in range(1 << 16))
    with path.open("wb") as handle:
        handle.write(header)
        remaining = size - len(header)
        while remaining > 0:
            handle.write(block[: min(len(block), remaining)])
            remaining -= min(len(block), remaining)
    return path


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def test_curl_T_sends_a_file_through_a_link(served: Served, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is missing: apt-get install -y curl"
    audio = wav_file(tmp_path / "meeting.wav", 2_000_000)
    async with agent(served) as client:
        link = await call(client, "create_upload_link", {})
        assert link["url"].startswith(f"{served.gateway.base_url}/u/")
        command = link["curl"].replace("recording.mp3", str(audio)).replace("curl ", "", 1)
        done = subprocess.run([curl, "-sS", "--fail", *_split(command)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"Uploaded {audio.stat().st_size} bytes. Go back to your chat.\n"
        state = await call(client, "wait_for_upload", {"link": link["url"]})
        assert state["state"] == "done" and state["bytes_received"] == audio.stat().st_size
        transcript = await call(client, "transcribe", {"upload_link": link["url"], "timeout_seconds": 120})
        assert transcript["status"] == "completed" and transcript["upload_url"] == state["upload_url"]
        again = subprocess.run([curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", *_split(command)],
                               capture_output=True, text=True)  # fmt: skip
        assert again.stdout == "409"


def _split(command: str) -> list[str]:
    """`-T PATH 'URL'` as arguments (the tool quotes the URL for a shell)."""
    flag, path, url = command.split(" ", 2)
    return [flag, path, url.strip("'")]


async def test_a_browser_uploads_50_MB_through_the_page(served: Served, tmp_path: Path) -> None:
    assert CHROMIUM.exists(), "chromium is missing: apt-get install -y --no-install-recommends chromium"
    from playwright.async_api import async_playwright

    audio = wav_file(tmp_path / "interview.wav", BROWSER_FILE_BYTES)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with agent(served) as client:
        link = await call(client, "create_upload_link", {})
        async with async_playwright() as playwright:
            args = ["--no-sandbox"] if os.geteuid() == 0 else []
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
            page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone's screen
            errors: list[str] = []
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            await page.goto(link["url"])
            await page.screenshot(path=ARTIFACTS / "1-waiting.png", full_page=True)
            assert await page.locator("#drop").is_visible()
            assert await page.get_by_text("Choose a file").is_visible()
            started = time.monotonic()
            values = await _uploaded(page, audio)
            elapsed = time.monotonic() - started
            await page.screenshot(path=ARTIFACTS / "3-done.png", full_page=True)
            assert await page.locator("#done").is_visible()
            assert "Go back to your chat" in await page.locator("#done").inner_text()
            assert await page.locator("h1").inner_text() == "Upload complete"
            await browser.close()
        state = await call(client, "wait_for_upload", {"link": link["url"]})
    assert state["state"] == "done" and state["bytes_received"] == BROWSER_FILE_BYTES
    increasing = [v for i, v in enumerate(values) if i == 0 or v > values[i - 1]]
    assert len(increasing) >= 3 and increasing[-1] == 100, values  # the bar moved, several times
    assert errors == []  # the page's script ran under its policy (a CSP refusal logs an error)
    for shot in ("1-waiting.png", "2-uploading.png", "3-done.png"):
        assert (ARTIFACTS / shot).stat().st_size > 5_000
    rss = peak_rss_mb(served.gateway.pid)
    print(f"\n50 MB browser upload: {BROWSER_FILE_BYTES / 1e6 / elapsed:.1f} MB/s, "
          f"{elapsed:.1f} s; gateway peak RSS {rss:.0f} MB; bar values seen {increasing}")  # fmt: skip


WATCH_BAR = """() => {
    // The bar's value each time it changes, sampled every few ms from before the file is chosen.
    const bar = document.getElementById("bar"), seen = [];
    window.aaiSeen = seen;
    setInterval(() => { if (seen[seen.length - 1] !== bar.value) { seen.push(bar.value); } }, 2);
}"""


async def test_the_page_refuses_a_file_that_is_not_audio_before_sending_it(served: Served) -> None:
    assert CHROMIUM.exists(), "chromium is missing: apt-get install -y --no-install-recommends chromium"
    from playwright.async_api import FilePayload, async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with agent(served) as client:
        link = await call(client, "create_upload_link", {})
        async with async_playwright() as playwright:
            args = ["--no-sandbox"] if os.geteuid() == 0 else []
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.goto(link["url"])
            document = FilePayload(
                name="notes.pdf", mimeType="audio/mpeg", buffer=b"%PDF-1.7\n" + bytes(5000)
            )
            await page.set_input_files("#file", files=[document])  # a PDF that claims to be audio
            await page.wait_for_function(ENDED)
            await page.screenshot(path=ARTIFACTS / "4-not-audio.png", full_page=True)
            assert await page.evaluate("document.body.dataset.state") == "error"
            assert "not audio or video" in await page.locator("#error-text").inner_text()
            assert await page.locator("#drop").is_visible()  # the person may pick another file
            await browser.close()
        state = await call(client, "wait_for_upload", {"link": link["url"], "timeout_seconds": 1})
    assert state["state"] == "waiting" and state["bytes_received"] == 0  # nothing was sent


# Functions, not expressions: Playwright evaluates an expression with eval(), which the page's CSP refuses.
ENDED = "() => ['done', 'error'].includes(document.body.dataset.state)"


async def _uploaded(page: Any, path: Path) -> list[float]:
    """Choose `path` on the page and wait for its done state (no fixed sleeps); the bar's values seen."""
    await page.evaluate(WATCH_BAR)
    await page.set_input_files("#file", str(path))
    await page.wait_for_function("() => document.getElementById('bar').value > 5")
    await page.screenshot(path=ARTIFACTS / "2-uploading.png", full_page=True)
    await page.wait_for_function(ENDED, timeout=240_000)
    state = await page.evaluate("document.body.dataset.state")
    assert state == "done", await page.locator("#error-text").inner_text()
    await page.wait_for_function("() => window.aaiSeen[window.aaiSeen.length - 1] === 100")
    return list(await page.evaluate("window.aaiSeen"))
