"""The transcript viewer in a real browser: Debian's chromium renders the ui:// page in a minimal MCP
Apps host (tests/support/apps_host.html: sandboxed iframe, the CSP the view asks for, the host side of
ui/initialize, tool-input, tool-result, download-file and tools/call), fed the result of transcribe
from a real gateway on loopback over the simulator (or the server in-process), with a generated WAV
on loopback as the audio.

Screenshots go to test-artifacts/views/ (gitignored) and are read back for the speakers' colours and
the search highlights."""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client
from mcp_types import TextResourceContents

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from tests.support import make_settings
from tests.support.raw_mcp import Session, call
from tests.support.servers import serve_in_thread
from tests.support.view_host import ARTIFACTS, chromium, colour_counts, host_server, write_wav

pytestmark = pytest.mark.slow

SPEAKER_COLOURS = ["#2563eb", "#d9480f"]  # the viewer's first two palette entries
MARK_COLOUR = "#ffe066"
WAV_SECONDS = 200  # longer than the simulator's transcript (159 s)
DEADLINE_MS = 30_000  # generous: a loaded 2-core machine
SRT_CUE = re.compile(r"^(\d+)\n(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)\n(.*)$", re.S)


async def transcribed(origin: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """transcribe's result (as a host receives it) and the view its tool names, from the server in-process."""
    settings = make_settings(api_key=None, simulator_delay_seconds=0.0, viewer_media_origins=origin)
    gateway = build_gateway(settings)
    try:
        async with Client(build_server(gateway)) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            uri = (tools["transcribe"].meta or {})["ui"]["resourceUri"]
            arguments = {"audio_url": f"{origin}/talk.wav", "speaker_labels": True}
            result = await client.call_tool("transcribe", arguments)
            (content,) = (await client.read_resource(uri)).contents
    finally:
        await gateway.aclose()
    assert isinstance(content, TextResourceContents) and content.meta is not None
    view = {"html": content.text, "csp": content.meta["ui"]["csp"], "arguments": arguments}
    return result.model_dump(by_alias=True, exclude_none=True, mode="json"), view


class Gateway:
    """A real gateway on loopback and one MCP session with it, as a host's MCP client holds."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.ids = itertools.count(1)
        self.calls: list[dict[str, Any]] = []

    def rpc(self, method: str, **params: Any) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": next(self.ids), "method": method, "params": params}
        answer: dict[str, Any] = self.session.result(body)["result"]
        return answer

    def tool(self, name: str, **arguments: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.session.result(call(next(self.ids), name, **arguments))["result"]
        return answer

    def proxied(self, params: dict[str, Any]) -> dict[str, Any]:
        """tools/call on the view's behalf (the host's job), recorded."""
        self.calls.append(params)
        return self.tool(params["name"], **params.get("arguments", {}))

    def transcribed(self, origin: str) -> tuple[dict[str, Any], dict[str, Any]]:
        tools = {tool["name"]: tool for tool in self.rpc("tools/list")["tools"]}
        uri = tools["transcribe"]["_meta"]["ui"]["resourceUri"]
        arguments = {"audio_url": f"{origin}/talk.wav", "speaker_labels": True}
        result = self.tool("transcribe", **arguments)
        (content,) = self.rpc("resources/read", uri=uri)["contents"]
        view = {"html": content["text"], "csp": content["_meta"]["ui"]["csp"], "arguments": arguments}
        return result, view


@contextmanager
def gateway_for(origin: str) -> Iterator[Gateway]:
    settings = make_settings(api_key=None, simulator_delay_seconds=0.0, viewer_media_origins=origin)
    with serve_in_thread(settings) as url, httpx.Client(timeout=60) as http:
        yield Gateway(Session(http, f"{url}/mcp", {}))


def stamp(ms: int) -> str:
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


def search_word(utterances: list[dict[str, Any]]) -> str:
    """A word of six letters or more that appears in several utterances."""
    words = Counter(word for u in utterances for word in set(re.findall(r"[a-z]{6,}", u["text"].lower())))
    word, seen = words.most_common(1)[0]
    assert seen >= 2
    return str(word)


def mount(page: Any, origin: str, view: dict[str, Any], result: dict[str, Any], caps: dict[str, Any]) -> Any:
    page.goto(f"{origin}/host.html")
    page.evaluate("(view) => mount(view)", {**view, "result": result, "capabilities": caps})
    frame = page.wait_for_selector("#view").content_frame()
    frame.wait_for_selector("#viewer:not(.hidden)", timeout=DEADLINE_MS)
    return frame


def check_rendering(frame: Any, utterances: list[dict[str, Any]]) -> None:
    speakers = list(dict.fromkeys(u["speaker"] for u in utterances))
    assert frame.locator("#legend .chip").all_inner_texts() == [f"Speaker {s}" for s in speakers]
    assert frame.locator("#timeline .track").count() == len(speakers)
    assert frame.locator("#timeline .seg").count() == len(utterances)
    lines = frame.locator("#lines .line")
    assert lines.count() == len(utterances)
    for index in (0, len(utterances) - 1):
        line = lines.nth(index)
        assert line.locator(".text").inner_text() == utterances[index]["text"]
        assert line.locator("time").inner_text() == clock(utterances[index]["start"])
        assert line.locator(".who").inner_text() == utterances[index]["speaker"]
        assert line.is_visible() or index > 0


def check_seek(frame: Any, origin: str, utterances: list[dict[str, Any]]) -> None:
    player = frame.locator("#player")
    assert player.is_visible() and player.get_attribute("src") == f"{origin}/talk.wav"
    frame.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=DEADLINE_MS)
    index = next(i for i, u in enumerate(utterances) if u["start"] > 30_000)
    start = utterances[index]["start"] / 1000
    frame.locator("#lines .line").nth(index).click()
    # One look at both: the playhead (from the clicked line on) and the line marked as playing.
    played_from = """([a, b]) => {
      const t = document.querySelector('#player').currentTime;
      const line = document.querySelector('#lines .line.current');
      const current = line ? Number(line.dataset.index) : -1;
      return t >= a && t < b ? { t, current } : null;
    }"""
    seen = frame.wait_for_function(
        played_from, arg=[start - 0.3, start + 20], timeout=DEADLINE_MS
    ).json_value()
    # Playback goes on after the seek (a loaded machine may look late): the marked line follows it.
    playing = max(i for i, u in enumerate(utterances) if u["start"] / 1000 <= seen["t"] + 0.3)
    assert seen["current"] in (playing, playing - 1) and seen["current"] >= index, (seen, index)


def check_search(frame: Any, utterances: list[dict[str, Any]]) -> int:
    word = search_word(utterances)
    expected = sum(u["text"].lower().count(word) for u in utterances)
    frame.locator("#search").fill(word.upper())  # case does not matter
    frame.wait_for_function(f"() => document.querySelectorAll('#lines mark').length === {expected}")
    marks = frame.locator("#lines mark").all_inner_texts()
    assert [m.lower() for m in marks] == [word] * expected
    assert frame.locator("#count").inner_text() == f"{expected} matches"
    return int(expected)


def check_built_srt(text: str, utterances: list[dict[str, Any]]) -> None:
    """Subtitles the view built itself: one cue per utterance, its times, "speaker: text"."""
    cues = text.strip().split("\n\n")
    assert len(cues) == len(utterances)
    for number, (cue, u) in enumerate(zip(cues, utterances, strict=True), start=1):
        match = SRT_CUE.match(cue)
        assert match, cue
        expected = (str(number), stamp(u["start"]), stamp(u["end"]), f"{u['speaker']}: {u['text']}")
        assert match.groups() == expected


def hosted_download(page: Any, frame: Any, button: str) -> dict[str, Any]:
    """Click a download button; the file the view handed the host (ui/download-file)."""
    before = page.evaluate("() => window.host.downloads.length")
    frame.locator(button).click()
    page.wait_for_function(f"() => window.host.downloads.length === {before + 1}", timeout=DEADLINE_MS)
    (content,) = page.evaluate(f"() => window.host.downloads[{before}].contents")
    assert content["type"] == "resource"
    resource: dict[str, Any] = content["resource"]
    return resource


PAINTED = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def shot(browser: Any, page: Any, frame: Any, name: str, colours: list[str], wanted: int) -> list[int]:
    """A screenshot saved as `name` once it shows `wanted` of the first colour, and how many pixels
    show each of `colours`. The view's iframe paints in its own process: under load a screenshot
    can come before its first paint, so a blank one is taken again (until the deadline), not a pass.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path: Path = ARTIFACTS / name
    deadline = time.monotonic() + DEADLINE_MS / 1000
    while True:
        frame.evaluate(PAINTED)
        png: bytes = page.locator("#view").screenshot(path=str(path))  # the view as the chat shows it
        counts = colour_counts(browser, png, colours)
        if counts[0] >= wanted or time.monotonic() > deadline:
            assert path.stat().st_size == len(png) > 10_000
            return counts


def test_the_transcript_viewer_plays_searches_and_downloads_in_chromium(tmp_path: Path) -> None:
    wav = tmp_path / "talk.wav"
    write_wav(wav, WAV_SECONDS)
    with host_server(wav) as origin, gateway_for(origin) as gateway:
        result, view = gateway.transcribed(origin)
        transcript_id = result["structuredContent"]["id"]
        utterances = result["structuredContent"]["utterances"]
        official = gateway.tool("get_subtitles", transcript_id=transcript_id, subtitle_format="srt")
        assert view["csp"] == {"connectDomains": [], "resourceDomains": [origin]}
        with chromium() as browser:
            # Tall enough for the whole view: a full-page screenshot would resize, and repaint, it.
            page = browser.new_page(viewport={"width": 820, "height": 1400})
            requested: list[str] = []
            errors: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.expose_function("callTool", gateway.proxied)
            frame = mount(page, origin, view, result, {"downloadFile": {}, "serverTools": {}})

            check_rendering(frame, utterances)
            check_seek(frame, origin, utterances)
            colours = [*SPEAKER_COLOURS, MARK_COLOUR]
            plain = shot(browser, page, frame, "transcript-viewer.png", colours, 500)
            found = check_search(frame, utterances)
            searched = shot(browser, page, frame, "transcript-viewer-search.png", [MARK_COLOUR], 50 * found)
            srt = hosted_download(page, frame, "#srt")
            host = page.evaluate("() => window.host")

    # The screenshots show both speakers' colours, and highlights only once searched.
    assert min(plain[:2]) > 500 and plain[2] == 0, plain
    assert searched[0] > 50 * found, (searched, found)
    assert host["initialized"] and host["sizes"] and host["requests"][0] == "ui/initialize"
    # The host lets the view call tools: the SRT is the service's own, fetched with get_subtitles.
    assert gateway.calls == [
        {
            "name": "get_subtitles",
            "arguments": {"transcript_id": transcript_id, "subtitle_format": "srt", "text_offset": 0},
        }
    ]
    assert srt["mimeType"] == "application/x-subrip" and srt["uri"].endswith(
        f"transcript-{transcript_id}.srt"
    )
    assert srt["text"] == official["structuredContent"]["text"] and SRT_CUE.match(
        srt["text"].split("\n\n")[0]
    )
    # The view reached nothing but the audio: no other request, no CSP violation.
    assert set(requested) == {f"{origin}/host.html", f"{origin}/talk.wav"}, requested
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_a_host_without_tools_or_downloads_gets_subtitles_the_view_builds(tmp_path: Path) -> None:
    wav = tmp_path / "talk.wav"
    write_wav(wav, 5)
    with host_server(wav) as origin:
        # Before the browser: Playwright's sync API runs its own event loop in this thread.
        result, view = anyio.run(transcribed, origin)
        utterances = result["structuredContent"]["utterances"]
        files = {}
        with chromium() as browser:
            page = browser.new_page()
            frame = mount(page, origin, view, result, {})
            for button in ("#srt", "#vtt"):
                with page.expect_download(timeout=DEADLINE_MS) as download:
                    frame.locator(button).click()
                files[download.value.suggested_filename] = Path(download.value.path()).read_text(
                    encoding="utf-8"
                )
            host = page.evaluate("() => window.host")
    name = f"transcript-{result['structuredContent']['id']}"
    assert set(files) == {f"{name}.srt", f"{name}.vtt"}
    check_built_srt(files[f"{name}.srt"], utterances)
    vtt = files[f"{name}.vtt"]
    assert vtt.startswith("WEBVTT\n\n") and vtt.count(" --> ") == len(utterances)
    assert f"<v {utterances[0]['speaker']}>{utterances[0]['text']}" in vtt
    assert host["requests"] == ["ui/initialize"]  # no download-file, no tools/call
