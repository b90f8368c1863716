"""The upload widget (issue 14 part 4): create_upload_link's MCP Apps view runs the upload page's own
script under a CSP that reaches the gateway's public origin alone; its result is the same for clients
with and without the extension; and the link answers a cross-origin upload from the chat's sandbox
(CORS preflight, any Origin on /u only), while every other route keeps its Origin check."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from mcp.server.apps import APP_MIME_TYPE
from mcp_types import TextResourceContents

from aai_mcp.mcp_server.apps.app_views import VIEW_BRIDGE_MARK, shared_parts, view_bridge
from aai_mcp.state.store_sql import SqlStore, open_store
from aai_mcp.uplink.page import render, upload_parts, upload_script
from tests import test_upload_links
from tests.support import wav_bytes
from tests.test_app_views import VIEWER, WIDGET, connected, read_view
from tests.test_upload_links import PUBLIC_URL, Rig, _local

pytestmark = pytest.mark.anyio
# The upload-link rig (a gateway in process on a store, over the simulator), on each engine.
rig = test_upload_links.rig
simulator_app = test_upload_links.simulator_app


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Any:
    opened = open_store(tmp_path / "data", None, {}, auto_upgrade=True)
    try:
        yield opened
    finally:
        opened.close()


async def test_the_widget_runs_the_upload_pages_script_and_reaches_the_gateway_alone() -> None:
    async with connected(public_url="https://aai.example.com/base/") as client:
        content = await read_view(client, WIDGET)
    assert isinstance(content, TextResourceContents) and content.mime_type == APP_MIME_TYPE
    csp = {"connectDomains": ["https://aai.example.com"], "resourceDomains": []}
    assert content.meta == {"ui": {"csp": csp, "prefersBorder": True}}
    html = content.text
    # One copy of the upload's logic: the very script the page serves, put in where the mark was.
    # One copy of the upload's logic and controls: the very script and markup the page serves, and of
    # the host protocol the viewer speaks, each put in where its mark was.
    for mark, shared in shared_parts().items():
        assert html.count(shared) == 1 and mark not in html, mark
    assert set(shared_parts().values()) >= {upload_script(), view_bridge(), *upload_parts()}
    page = render(None, "waiting", "https://aai.example.com/u/x.y", "n")
    assert upload_script() in page and all(part in page for part in upload_parts())
    assert "function startUploads(options)" in upload_script() and "ui/initialize" in html
    island = json.dumps({"mediaOrigins": [], "connectOrigins": ["https://aai.example.com"]})
    assert f'<script type="application/json" id="config">{island}</script>' in html
    # Nothing loads from elsewhere: no external script, stylesheet, font or image.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(|fetch\(|WebSocket|EventSource", html)


async def test_without_a_public_url_the_widget_may_reach_nothing() -> None:
    async with connected() as client:
        content = await read_view(client, WIDGET)
        viewer = await read_view(client, VIEWER)
    assert content.meta is not None and content.meta["ui"]["csp"]["connectDomains"] == []
    assert viewer.text.count(view_bridge()) == 1 and VIEW_BRIDGE_MARK not in viewer.text


async def upload_link_result(store: SqlStore, apps: bool, mode: str) -> dict[str, Any]:
    async with connected(apps=apps, mode=mode, public_url=PUBLIC_URL, store=store) as client:
        result = await client.call_tool("create_upload_link", {})
    assert not result.is_error, result.content
    shape = result.model_dump(by_alias=True, exclude_none=True)
    url, expires = result.structured_content["url"], result.structured_content["expires_at"]
    # The link and its expiry differ between two links: everything else is the same.
    return dict(json.loads(json.dumps(shape).replace(url, "URL").replace(expires, "T")))


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_upload_links_result_is_the_same_with_and_without_the_extension(
    sqlite_store: SqlStore, mode: str
) -> None:
    plain = await upload_link_result(sqlite_store, apps=False, mode=mode)
    rendered = await upload_link_result(sqlite_store, apps=True, mode=mode)
    assert rendered == plain
    assert plain["structuredContent"]["url"] == "URL" and plain["structuredContent"]["max_bytes"] > 0


async def test_the_link_answers_the_widgets_preflight_and_upload_from_any_origin(rig: Rig) -> None:
    url = await rig.new_link()
    asked = {
        "Origin": "null",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "accept",
    }
    preflight = await rig.http.options(_local(url), headers=asked)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    assert "accept" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    audio = wav_bytes(1.0)
    sent = await rig.put(url, audio, Origin="https://sandbox.chat.example", Accept="application/json")
    assert sent.status_code == 200, sent.text
    assert sent.headers["access-control-allow-origin"] == "*"
    assert sent.json() == {"state": "done", "bytes_received": len(audio)}
    used = await rig.put(url, audio, Origin="null", Accept="application/json")
    assert used.status_code == 409 and used.headers["access-control-allow-origin"] == "*"
    assert used.json()["error"]["code"] == "used"
    page = await rig.http.get(_local(url))
    assert "access-control-allow-origin" not in page.headers  # the page itself is not for other origins


async def test_the_link_tells_the_widget_its_state_before_and_after(rig: Rig) -> None:
    url = await rig.new_link()
    wanted = {"Origin": "null", "Accept": "application/json"}
    before = await rig.http.get(_local(url), headers=wanted)
    assert before.status_code == 200 and before.headers["access-control-allow-origin"] == "*"
    assert before.json() == {"state": "waiting", "message": ""}
    assert (await rig.put(url, wav_bytes(1.0))).status_code == 200
    after = (await rig.http.get(_local(url), headers=wanted)).json()
    assert after == {
        "state": "done",
        "message": "This link was used: the file arrived. Go back to your chat.",
    }
    unknown = await rig.http.get(_local(url)[:-4] + "AAAA", headers=wanted)
    assert unknown.status_code == 404 and unknown.json()["state"] == "unknown"


async def test_other_routes_keep_refusing_a_foreign_origin(rig: Rig) -> None:
    refused = await rig.http.post("/mcp", headers={"Origin": "https://sandbox.chat.example"}, json={})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "invalid_origin"
    lookalike = await rig.http.post("/upload", headers={"Origin": "null"}, json={})
    assert lookalike.status_code == 403
