"""MCP Apps views through the in-memory client: tool `_meta`, the `ui://` page, the extension in
both protocol eras, and results that do not change with the client's support for the extension."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.extension import ClientExtension
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, TextResourceContents
from pydantic import ValidationError

from aai_mcp.access import Scopes
from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.apps.app_views import BY_TOOL, VIEWS, AppView, AppViews
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.state.store_sql import SqlStore
from tests.support import make_settings
from tests.support.servers import serve_gateway_in_thread
from tests.test_access_composite import SECRET, in_memory, simulated_gateway
from tests.test_access_reads import as_token

pytestmark = pytest.mark.anyio

VIEWER = "ui://aai-mcp/transcript-viewer.html"
WIDGET = "ui://aai-mcp/upload-widget.html"
VIEWED = {"get_transcript", "wait_for_transcript", "transcribe"}
VIEW_OF = {**dict.fromkeys(VIEWED, VIEWER), "create_upload_link": WIDGET}
AUDIO_URL = "https://media.example.com/calls/support-call.mp3"
SETTINGS = {"api_key": None, "simulator_delay_seconds": 0.0}


class AppsSupport(ClientExtension):
    """A host that renders MCP Apps, as it announces itself (the extension's client settings)."""

    identifier = EXTENSION_ID

    def settings(self) -> dict[str, Any]:
        return {"mimeTypes": [APP_MIME_TYPE]}


@asynccontextmanager
async def connected(
    apps: bool = False, mode: str = "auto", store: SqlStore | None = None, **settings: Any
) -> AsyncIterator[Client]:
    gateway = build_gateway(make_settings(**{**SETTINGS, **settings}))
    if store is not None:
        gateway.use_store(store)
    extensions = [AppsSupport()] if apps else None
    try:
        async with Client(build_server(gateway), mode=mode, extensions=extensions) as client:
            yield client
    finally:
        await gateway.aclose()


async def read_view(client: Client, uri: str = VIEWER) -> TextResourceContents:
    result = await client.read_resource(uri)
    (content,) = result.contents
    assert isinstance(content, TextResourceContents)
    return content


async def test_the_viewed_tools_name_the_viewer_and_no_other_tool_names_a_view() -> None:
    async with connected() as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    bound = {name: tool.meta for name, tool in tools.items() if tool.meta and "ui" in tool.meta}
    assert set(bound) == set(VIEW_OF)
    for name, meta in bound.items():
        uri = VIEW_OF[name]
        assert meta == {"ui": {"resourceUri": uri}, "ui/resourceUri": uri, "openai/outputTemplate": uri}
    assert not any(tool.meta for name, tool in tools.items() if name not in VIEW_OF)


async def test_the_viewer_is_a_self_contained_app_page_with_a_closed_csp() -> None:
    async with connected() as client:
        content = await read_view(client)
    assert content.uri == VIEWER and content.mime_type == APP_MIME_TYPE
    closed: dict[str, list[str]] = {"connectDomains": [], "resourceDomains": []}
    assert content.meta == {"ui": {"csp": closed, "prefersBorder": True}}
    html = content.text
    assert html.startswith("<!doctype html>") and "ui/initialize" in html
    # Nothing loads from elsewhere: no external script, stylesheet, font, image or fetch.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(|fetch\(|XMLHttpRequest|WebSocket|EventSource", html)
    island = '<script type="application/json" id="config">{"mediaOrigins": [], "connectOrigins": []}</script>'
    assert island in html


async def test_media_origins_open_the_csp_for_media_and_reach_the_page() -> None:
    origins = ["https://media.example.com", "http://127.0.0.1:8123"]
    async with connected(viewer_media_origins=",".join(origins)) as client:
        content = await read_view(client)
    assert content.meta is not None
    assert content.meta["ui"]["csp"] == {"connectDomains": [], "resourceDomains": origins}
    assert json.dumps({"mediaOrigins": origins, "connectOrigins": []}) in content.text


def test_a_view_that_sends_to_the_gateway_may_reach_its_public_origin_alone() -> None:
    # The shape the upload widget (create_upload_link) takes: it PUTs the file to its upload link.
    widget = AppView(
        uri="ui://aai-mcp/test-widget.html",
        name="test_widget",
        title="Test widget",
        description="Sends to the gateway.",
        page="transcript_viewer.html",
        tools=("upload_file",),
        sends_to_gateway=True,
    )
    gateway = build_gateway(make_settings(**SETTINGS, public_url="https://aai.example.com/base/"))
    views = AppViews(
        gateway.registry,
        None,
        ["https://media.example.com"],
        "local",
        gateway.settings.public_url,
        [widget],
    )
    (content,) = views.read(widget.uri).contents
    assert content.meta == {
        "ui": {
            "csp": {"connectDomains": ["https://aai.example.com"], "resourceDomains": []},
            "prefersBorder": True,
        }
    }
    assert isinstance(content, TextResourceContents)
    assert '{"mediaOrigins": [], "connectOrigins": ["https://aai.example.com"]}' in content.text
    with pytest.raises(MCPError):
        views.read(VIEWER)  # only the views given are served


NOT_ORIGINS = ["https://media.example.com/a", "https://*.example.com", "ftp://example.com", "example.com"]


@pytest.mark.parametrize("value", NOT_ORIGINS)
def test_a_media_origin_must_be_an_origin(value: str) -> None:
    with pytest.raises(ValidationError, match="origin"):
        make_settings(viewer_media_origins=value)


async def test_an_unknown_view_is_refused_like_an_unknown_resource() -> None:
    async with connected() as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource("ui://aai-mcp/nothing-here.html")
    assert caught.value.error.code == INVALID_PARAMS
    assert VIEWER in caught.value.error.message


async def test_a_server_without_the_viewed_tools_serves_no_viewer() -> None:
    async with in_memory(tools=["get_sentences"]) as (client, _):
        with pytest.raises(MCPError) as caught:
            await client.read_resource(VIEWER)
    assert "none for this caller" in caught.value.error.message


def test_a_caller_who_may_use_none_of_a_views_tools_cannot_read_it() -> None:
    gateway = build_gateway(make_settings(**SETTINGS))
    narrow = AppViews(gateway.registry, Scopes(tools=frozenset({"list_transcripts"})), [])
    with pytest.raises(MCPError):
        narrow.read(VIEWER)
    one = AppViews(gateway.registry, Scopes(tools=frozenset({"get_transcript"})), [])
    assert one.read(VIEWER).contents


def test_every_view_page_exists_and_every_bound_tool_is_in_the_catalog() -> None:
    gateway = build_gateway(make_settings(**SETTINGS))
    views = AppViews(gateway.registry, None, [])
    for view in VIEWS:
        assert views.read(view.uri).contents
    assert set(BY_TOOL) <= set(gateway.catalog.tools)


@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_the_extension_is_visible_in_both_protocol_eras(mode: str, version: str) -> None:
    async with connected(mode=mode) as client:
        assert client.protocol_version == version
        capabilities = client.server_capabilities
    settings = {"mimeTypes": [APP_MIME_TYPE]}
    assert capabilities is not None
    # 2025-11-25's schema has no `extensions`: the SDK drops it there, so `experimental` carries it.
    assert (capabilities.experimental or {}).get(EXTENSION_ID) == settings
    if version == "2026-07-28":
        assert (capabilities.extensions or {}).get(EXTENSION_ID) == settings


async def results(apps: bool, mode: str) -> list[dict[str, Any]]:
    async with connected(apps=apps, mode=mode) as client:
        done = await client.call_tool("transcribe", {"audio_url": AUDIO_URL, "speaker_labels": True})
        transcript_id = done.structured_content["id"]
        calls = [
            done,
            await client.call_tool("get_transcript", {"transcript_id": transcript_id}),
            await client.call_tool("wait_for_transcript", {"transcript_id": transcript_id}),
            await client.call_tool("get_sentences", {"transcript_id": transcript_id}),
        ]
    shapes = []
    for result in calls:
        assert not result.is_error, result.content
        shape = result.model_dump(by_alias=True, exclude_none=True)
        if "waited_seconds" in shape["structuredContent"]:  # a timing, not a shape
            shape["structuredContent"]["waited_seconds"] = "T"
        # Only the job id differs between the two runs: a new job each time.
        shapes.append(json.loads(json.dumps(shape).replace(transcript_id, "ID")))
    return shapes


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_results_are_the_same_with_and_without_the_extension(mode: str) -> None:
    plain = await results(apps=False, mode=mode)
    rendered = await results(apps=True, mode=mode)
    assert rendered == plain
    transcribed, got, waited, sentences = plain
    for result in (transcribed, got, waited):
        assert result["_meta"]["aai-mcp/view"] == {"audio_url": AUDIO_URL}
        assert result["structuredContent"]["utterances"] and "audio_url" not in result["structuredContent"]
    assert "aai-mcp/view" not in sentences["_meta"]


async def test_a_local_or_unfinished_transcript_carries_no_audio_for_the_view() -> None:
    async with connected(simulator_delay_seconds=60.0) as client:
        created = await client.call_tool("create_transcript", {"audio_url": AUDIO_URL})
        queued = await client.call_tool("get_transcript", {"transcript_id": created.structured_content["id"]})
    assert queued.structured_content["status"] in ("queued", "processing")
    assert "aai-mcp/view" not in (queued.meta or {})


@pytest.mark.slow
async def test_a_tokens_scopes_decide_whether_it_reads_the_viewer(caplog: pytest.LogCaptureFixture) -> None:
    gateway, _ = simulated_gateway(auth=["tokens"], token_secrets=SECRET)
    caplog.set_level(logging.INFO, logger="aai_mcp.audit")
    with serve_gateway_in_thread(gateway) as url:
        async with as_token(url, {"transcribe"}) as client:
            assert (await read_view(client)).mime_type == APP_MIME_TYPE
        async with as_token(url, {"list_transcripts", "get_sentences"}) as client:
            with pytest.raises(MCPError) as caught:
                await client.read_resource(VIEWER)
    assert caught.value.error.code == INVALID_PARAMS and "none for this caller" in caught.value.error.message
    lines = [
        r.getMessage() for r in caplog.records if r.name == "aai_mcp.audit" and "resource=" in r.getMessage()
    ]
    assert any("resource=transcript_viewer outcome=ok" in line for line in lines), lines
    assert any("resource=(not-a-view) outcome=unknown_resource" in line for line in lines), lines
    assert not any("ui://" in line for line in lines)  # the URI is the caller's argument: never logged
