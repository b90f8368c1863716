"""A real browser hosting MCP Apps views: Debian's chromium driven by Playwright, a minimal host
page (apps_host.html) and a loopback server for it and the audio a view plays."""

from __future__ import annotations

import base64
import math
import os
import struct
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from tests.support.servers import serve_app_in_thread

CHROMIUM = Path(os.environ.get("AAI_MCP_CHROMIUM", "/usr/bin/chromium"))
HOST_PAGE = Path(__file__).with_name("apps_host.html")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "views"
INSTALL_HINT = (
    "needs Debian's chromium at {path}: `apt-get install -y --no-install-recommends chromium` (root), "
    "or point AAI_MCP_CHROMIUM at a Chromium binary; and `pip install -e '.[test]'` for playwright. "
    "Never `playwright install`: the tests drive the system browser."
)


def write_wav(path: Path, seconds: int, rate: int = 8000) -> None:
    """A quiet 400 Hz tone, 8-bit mono: long enough for every utterance's start to be seekable."""
    period = rate // 400
    cycle = bytes(128 + int(40 * math.sin(2 * math.pi * i / period)) for i in range(period))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(cycle * (seconds * rate // period))


@contextmanager
def host_server(wav: Path) -> Iterator[str]:
    """The host page and the audio on one loopback origin; yields it (http://127.0.0.1:port).
    FileResponse answers Range requests, which the browser sends to seek."""

    async def page(request: Request) -> Response:
        return HTMLResponse(HOST_PAGE.read_text(encoding="utf-8"))

    async def audio(request: Request) -> Response:
        return FileResponse(wav, media_type="audio/wav")

    app = Starlette(routes=[Route("/host.html", page), Route("/talk.wav", audio)])
    with serve_app_in_thread(app) as origin:
        yield origin


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium, failing (never skipping) with how to install what is missing."""
    if not CHROMIUM.exists():
        pytest.fail(INSTALL_HINT.format(path=CHROMIUM))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(INSTALL_HINT.format(path=CHROMIUM))
    args = ["--mute-audio", "--autoplay-policy=no-user-gesture-required"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # chromium refuses to run its sandbox as root
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield browser
        finally:
            browser.close()


# Counts pixels near each colour in a PNG: what the screenshot shows, read back by the browser itself.
COUNT_COLOURS = """async ([png, colours]) => {
  const img = new Image();
  img.src = "data:image/png;base64," + png;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width; canvas.height = img.height;
  const g = canvas.getContext("2d");
  g.drawImage(img, 0, 0);
  const data = g.getImageData(0, 0, img.width, img.height).data;
  const counts = colours.map(() => 0);
  for (let i = 0; i < data.length; i += 4) {
    colours.forEach((rgb, k) => {
      if (rgb.every((value, c) => Math.abs(data[i + c] - value) <= 4)) counts[k]++;
    });
  }
  return counts;
}"""


def rgb(hex_colour: str) -> tuple[int, int, int]:
    r, g, b = struct.unpack("BBB", bytes.fromhex(hex_colour.lstrip("#")))
    return r, g, b


def colour_counts(browser: Any, png: bytes, colours: list[str]) -> list[int]:
    """How many pixels of `png` show each of `colours` (within a small tolerance)."""
    page = browser.new_page()
    try:
        encoded = base64.b64encode(png).decode()
        counts: list[int] = page.evaluate(COUNT_COLOURS, [encoded, [rgb(c) for c in colours]])
        return counts
    finally:
        page.close()
