"""The MCP Apps views this server offers: which `ui://` page renders which tools' results.

A view is data, like a tool spec: its page (a self-contained HTML file beside this module), the tools
whose results it renders, and the CSP it needs. Tools carry `_meta.ui.resourceUri` (and ChatGPT's
`openai/outputTemplate`); hosts without the extension ignore it and show the text and structured
result as before. A view is readable only while a caller may use one of its tools (the registry's
one check, never a second list). resources/list stays the recent transcripts: hosts read a view by
the URI its tool names, so listing it would only push a transcript off the first page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import mcp_types as types
from mcp.server.apps import APP_MIME_TYPE
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from aai_mcp.access.scopes import Scopes
from aai_mcp.uplink.page import upload_parts, upload_script

if TYPE_CHECKING:  # the registry stamps tool definitions with this module's _meta: no import cycle
    from aai_mcp.mcp_server.registry import Registry

audit = logging.getLogger("aai_mcp.audit")

UI_SCHEME = "ui://"
# Where the page reads the origins it may play audio from (a JSON island the server fills in).
CONFIG_MARK = "/*AAI_MCP_VIEW_CONFIG*/{}"
# Parts a page shares, put in where its mark is: one copy of the host protocol for every view, and of
# the upload's logic and controls for the upload widget and the upload page.
UPLOAD_CLIENT_MARK = "/*AAI_MCP_UPLOAD_CLIENT*/"
VIEW_BRIDGE_MARK = "/*AAI_MCP_VIEW_BRIDGE*/"


@dataclass(frozen=True)
class AppView:
    uri: str
    name: str
    title: str
    description: str
    page: str
    """The HTML file beside this module."""
    tools: tuple[str, ...]
    """The tools whose results this view renders (their definitions point here)."""
    plays_media: bool = False
    """The view may play audio from the configured viewer media origins (CSP media-src)."""
    sends_to_gateway: bool = False
    """The view may send requests to the gateway's public URL and nowhere else (CSP connect-src):
    what an upload widget needs to PUT a file to its upload link."""


VIEWS = (
    AppView(
        uri="ui://aai-mcp/transcript-viewer.html",
        name="transcript_viewer",
        title="Transcript viewer",
        description="A completed transcript by speaker: timeline, utterances with times, click to play, "
        "search, copy, SRT/VTT download.",
        page="transcript_viewer.html",
        tools=("get_transcript", "wait_for_transcript", "transcribe"),
        plays_media=True,
    ),
    AppView(
        uri="ui://aai-mcp/upload-widget.html",
        name="upload_widget",
        title="Upload widget",
        description="The upload link's page inside the chat: pick or drop a recording, watch it upload.",
        page="upload_widget.html",
        tools=("create_upload_link",),
        sends_to_gateway=True,
    ),
)
BY_TOOL = {tool: view for view in VIEWS for tool in view.tools}
BY_URI = {view.uri: view for view in VIEWS}


def tool_meta(tool: str) -> dict[str, Any] | None:
    """The `_meta` that binds `tool` to its view (None: the tool has no view)."""
    view = BY_TOOL.get(tool)
    if view is None:
        return None
    # `ui/resourceUri` is the flat key of the spec's first drafts, still read by some hosts.
    return {"ui": {"resourceUri": view.uri}, "ui/resourceUri": view.uri, "openai/outputTemplate": view.uri}


def with_view(tool: types.Tool) -> types.Tool:
    meta = tool_meta(tool.name)
    if meta is None:
        return tool
    return tool.model_copy(update={"meta": {**(tool.meta or {}), **meta}})


class AppViews:
    """resources/read of the `ui://` views a caller with `scopes` may see."""

    def __init__(
        self,
        registry: Registry,
        scopes: Scopes | None,
        media_origins: list[str],
        caller: str = "local",
        public_url: str | None = None,
        views: Sequence[AppView] = VIEWS,
    ) -> None:
        self.caller = caller
        self.views = {
            view.uri: view
            for view in views
            if any(registry.visible(tool, scopes) is not None for tool in view.tools)
        }
        self.media_origins = list(media_origins)
        self.gateway_origins = [origin_of(public_url)] if public_url else []

    def read(self, uri: str) -> types.ReadResourceResult:
        view = self.views.get(uri)
        # The view's name, never the URI as sent (a caller's argument), like the transcript resources.
        outcome = "ok" if view is not None else "unknown_resource"
        name = view.name if view is not None else "(not-a-view)"
        audit.info("token=%s resource=%s outcome=%s", self.caller, name, outcome)
        if view is None:
            known = ", ".join(self.views) or "none for this caller"
            raise MCPError(INVALID_PARAMS, f"Unknown view. Readable views: {known}.")
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(
                    uri=uri, mime_type=APP_MIME_TYPE, text=self._page(view), meta={"ui": self._ui_meta(view)}
                )
            ]
        )

    def _origins(self, view: AppView) -> dict[str, list[str]]:
        # No frame or base-uri domain, ever: media only from origins the operator named, requests only
        # to this gateway, and each only for a view that needs it; anything else loads nothing.
        return {
            "connectDomains": self.gateway_origins if view.sends_to_gateway else [],
            "resourceDomains": self.media_origins if view.plays_media else [],
        }

    def _ui_meta(self, view: AppView) -> dict[str, Any]:
        return {"csp": self._origins(view), "prefersBorder": True}

    def _page(self, view: AppView) -> str:
        html = resources.files(__package__).joinpath(view.page).read_text(encoding="utf-8")
        origins = self._origins(view)
        config = {"mediaOrigins": origins["resourceDomains"], "connectOrigins": origins["connectDomains"]}
        for mark, shared in shared_parts().items():
            html = html.replace(mark, shared, 1)
        # "</" never appears in the JSON, so the island cannot close its script element early.
        return html.replace(CONFIG_MARK, json.dumps(config).replace("</", "<\\/"), 1)


def shared_parts() -> dict[str, str]:
    """What a view page takes from elsewhere, by the mark that stands for it."""
    drop_zone, progress = upload_parts()
    return {
        VIEW_BRIDGE_MARK: view_bridge(),
        UPLOAD_CLIENT_MARK: upload_script(),
        "<!--AAI_MCP_DROP_ZONE-->": drop_zone,
        "<!--AAI_MCP_PROGRESS-->": progress,
    }


@cache
def view_bridge() -> str:
    return resources.files(__package__).joinpath("view_bridge.js").read_text(encoding="utf-8")


def is_view_uri(uri: str) -> bool:
    return uri.startswith(UI_SCHEME)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
