"""The upload widget in a real browser: Debian's chromium renders create_upload_link's view in the
minimal MCP Apps host (tests/support/apps_host.html: a sandboxed iframe under the CSP the view asks
for), fed a real create_upload_link result from `aai-mcp serve` on loopback (its public URL its own
loopback address, another origin than the host page's) in front of the standalone simulator. A
generated WAV goes through the widget: the bar advances, the done state shows, wait_for_upload says
done with an upload_url. Screenshots go to test-artifacts/views/ and are read back for the done panel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import test_upload_links_served
from tests.support.raw_mcp import Session
from tests.support.view_host import ARTIFACTS, chromium, colour_counts, host_server, write_wav
from tests.test_upload_links_served import ENDED, WATCH_BAR, Served, wav_file
from tests.test_viewer_browser import Gateway

pytestmark = pytest.mark.slow

FILE_BYTES = 12 * 1000 * 1000  # a few MB: the page's own 50 MB run measures throughput
UPLOAD_BYTES_PER_SECOND = 24_000_000
DONE_GREEN = "#1a7f37"  # the done panel's border
DEADLINE_MS = 120_000  # generous: a loaded 2-core machine


# `aai-mcp serve` (public URL: its own loopback origin) over the standalone simulator, per module.
served = test_upload_links_served.served


def widget(gateway: Gateway) -> tuple[dict[str, Any], dict[str, Any]]:
    """create_upload_link's result and the view its definition names, as a host gets them."""
    tools = {tool["name"]: tool for tool in gateway.rpc("tools/list")["tools"]}
    uri = tools["create_upload_link"]["_meta"]["ui"]["resourceUri"]
    result = gateway.tool("create_upload_link")
    assert not result.get("isError"), result
    (content,) = gateway.rpc("resources/read", uri=uri)["contents"]
    view = {"html": content["text"], "csp": content["_meta"]["ui"]["csp"], "arguments": {}}
    return result, view


def throttle(page: Any, frame: Any) -> None:
    """Uploads at UPLOAD_BYTES_PER_SECOND: on loopback a few MB would arrive between two of the
    browser's progress events (one per 50 ms); slowed, the bar shows its steps."""
    from playwright.sync_api import Error as PlaywrightError  # chromium() says how to install it

    conditions = {
        "offline": False,
        "latency": 0,
        "downloadThroughput": -1,
        "uploadThroughput": UPLOAD_BYTES_PER_SECOND,
    }
    for target in (page, frame):
        try:
            session = page.context.new_cdp_session(target)
        except PlaywrightError:  # the view's frame shares the page's process: the page's session covers it
            continue
        session.send("Network.enable")
        session.send("Network.emulateNetworkConditions", conditions)


def shot(page: Any, name: str) -> bytes:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png: bytes = page.locator("#view").screenshot(path=str(ARTIFACTS / name))  # the view as the chat shows it
    return png


def test_the_upload_widget_uploads_a_file_inside_the_chat(served: Served, tmp_path: Path) -> None:
    gateway_url = served.gateway.base_url
    audio = wav_file(tmp_path / "interview.wav", FILE_BYTES)
    write_wav(tmp_path / "unused.wav", 1)  # the host server also serves a WAV; this view plays none
    with httpx.Client(timeout=60) as http, host_server(tmp_path / "unused.wav") as origin:
        agent = Gateway(Session(http, f"{gateway_url}/mcp", {}))
        result, view = widget(agent)
        link = result["structuredContent"]["url"]
        assert link.startswith(f"{gateway_url}/u/") and origin != gateway_url
        assert view["csp"] == {"connectDomains": [gateway_url], "resourceDomains": []}
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 820, "height": 700})
            requested: list[str] = []
            errors: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(f"{origin}/host.html")
            page.evaluate("(view) => mount(view)", {**view, "result": result, "capabilities": {}})
            frame = page.wait_for_selector("#view").content_frame()
            frame.wait_for_selector("#drop", state="visible", timeout=DEADLINE_MS)
            waiting = shot(page, "upload-widget-waiting.png")
            throttle(page, frame)
            frame.evaluate(WATCH_BAR)
            frame.set_input_files("#file", str(audio))
            frame.wait_for_function(ENDED, timeout=DEADLINE_MS)
            state = frame.evaluate("document.body.dataset.state")
            assert state == "done", frame.locator("#error-text").inner_text()
            frame.wait_for_function("() => window.aaiSeen[window.aaiSeen.length - 1] === 100")
            values: list[float] = frame.evaluate("window.aaiSeen")
            done = shot(page, "upload-widget-done.png")
            assert frame.locator("#done").is_visible() and frame.locator("#sent").inner_text().endswith(
                f"of {FILE_BYTES / 1e6:.0f} MB"
            )
            counts = [colour_counts(browser, png, [DONE_GREEN])[0] for png in (waiting, done)]
            host = page.evaluate("() => window.host")
        uploaded = agent.tool("wait_for_upload", link=link)["structuredContent"]
    increasing = [v for i, v in enumerate(values) if i == 0 or v > values[i - 1]]
    steps = [v for v in increasing if 0 < v < 100]
    assert len(steps) >= 3 and increasing[-1] == 100, values  # the bar moved, several times
    assert uploaded["state"] == "done" and uploaded["bytes_received"] == FILE_BYTES
    assert uploaded["upload_url"].startswith("http"), uploaded
    # The screenshots: no done panel while waiting, its green border once done.
    assert counts[0] == 0 and counts[1] > 500, counts
    assert host["initialized"] and host["requests"][0] == "ui/initialize"
    assert 100 < host["sizes"][-1]["height"] < 400, host["sizes"]  # its content, not the frame
    # The view reached the gateway's upload link and nothing else; the policy refused nothing.
    assert set(requested) == {f"{origin}/host.html", link}, requested
    assert not [e for e in errors if "Content Security Policy" in e], errors
    print(f"\nwidget upload of {FILE_BYTES / 1e6:.0f} MB: bar values seen {increasing}")


def mounted(browser: Any, origin: str, view: dict[str, Any], result: dict[str, Any]) -> tuple[Any, Any]:
    page = browser.new_page(viewport={"width": 820, "height": 700})
    page.goto(f"{origin}/host.html")
    page.evaluate("(view) => mount(view)", {**view, "result": result, "capabilities": {}})
    return page, page.wait_for_selector("#view").content_frame()


def chosen(frame: Any, name: str, data: bytes) -> str:
    """Choose a file in the widget; the error it shows."""
    frame.evaluate(
        "document.body.dataset.state = 'choosing'"
    )  # what a previous choice left is not the answer
    frame.set_input_files("#file", files=[{"name": name, "mimeType": "audio/wav", "buffer": data}])
    frame.wait_for_function(ENDED, timeout=DEADLINE_MS)
    assert frame.evaluate("document.body.dataset.state") == "error"
    text: str = frame.locator("#error-text").inner_text()
    return text


def refusal(frame: Any) -> str:
    """The sentence the widget shows instead of its drop zone."""
    frame.wait_for_selector("#message", state="visible", timeout=DEADLINE_MS)
    assert frame.locator("#upload").is_hidden()
    text: str = frame.locator("#message-text").inner_text()
    return text


def test_the_widget_says_what_is_wrong_and_sends_nowhere_else(served: Served, tmp_path: Path) -> None:
    gateway_url = served.gateway.base_url
    sound = wav_file(tmp_path / "call.wav", 200_000).read_bytes()
    write_wav(tmp_path / "unused.wav", 1)
    with httpx.Client(timeout=60) as http, host_server(tmp_path / "unused.wav") as origin:
        agent = Gateway(Session(http, f"{gateway_url}/mcp", {}))
        result, view = widget(agent)
        link = result["structuredContent"]["url"]
        with chromium() as browser:
            page, frame = mounted(browser, origin, view, result)
            frame.wait_for_selector("#drop", state="visible", timeout=DEADLINE_MS)
            not_media = chosen(frame, "notes.wav", b"%PDF-1.7\n" + bytes(5000))
            assert frame.locator("#drop").is_visible()  # another file may be picked
            assert http.put(link, content=sound).status_code == 200  # meanwhile, from a terminal
            used = chosen(frame, "call.wav", sound)
            shot(page, "upload-widget-used.png")
            _, again = mounted(browser, origin, view, result)  # the same result shown once more
            used_before = refusal(again)
            url = "https://elsewhere.example/u/a.b"
            moved = {**result, "structuredContent": {**result["structuredContent"], "url": url}}
            _, other = mounted(browser, origin, view, moved)
            elsewhere = refusal(other)
    assert not_media == "That file is not audio or video. Pick a recording (mp3, wav, m4a, mp4…)."
    assert used == "This upload link was already used. Ask for a new one in your chat." or used == (
        "This link was used: the file arrived. Go back to your chat."  # cut off: the link said why
    ), used
    assert used_before == "This link was used: the file arrived. Go back to your chat."
    assert elsewhere == f"This chat cannot send files from here. Open the link in your browser instead: {url}"
