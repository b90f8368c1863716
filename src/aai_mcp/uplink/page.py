"""The upload page: one self-contained HTML document (its CSS and script inline, allowed by a per-response
nonce, nothing loaded from elsewhere), and the headers every upload-link response carries."""

from __future__ import annotations

import html
import secrets
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aai_mcp.state.upload_link_store import UploadLink


TITLES = {
    "waiting": "Upload your recording",
    "done": "Upload complete",
    "receiving": "Upload in progress",
    "failed": "Upload failed",
    "expired": "Link expired",
    "unknown": "Link not found",
}
MESSAGES = {
    "done": "This link was used: the file arrived. Go back to your chat.",
    "receiving": "A file is being uploaded through this link right now; it takes only one.",
    "failed": "The upload through this link failed. Ask for a new link in your chat.",
    "expired": "This upload link has expired. Ask for a new one in your chat.",
    "unknown": "This upload link does not exist, or it was mistyped. Ask for a new one in your chat.",
}


def security_headers(nonce: str | None = None) -> dict[str, str]:
    """Headers on every upload-link answer: the page runs only its own nonce'd script and style, talks
    only to this origin, is never framed, and its address (the credential) never leaks as a referrer."""
    inline = f"'nonce-{nonce}'" if nonce else "'none'"
    policy = (
        f"default-src 'none'; script-src {inline}; style-src {inline}; connect-src 'self'; "
        "img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


@cache
def upload_script() -> str:
    """The upload's script, shared by the page and the upload widget (an MCP Apps view): one copy."""
    return resources.files("aai_mcp.uplink").joinpath("upload_client.js").read_text(encoding="utf-8")


@cache
def upload_parts() -> tuple[str, str]:
    """The drop zone (file picker) and the progress section, shared with the upload widget too."""
    text = resources.files("aai_mcp.uplink").joinpath("upload_parts.html").read_text(encoding="utf-8")
    drop_zone, progress = text.split("<!-- progress -->\n")
    return drop_zone.rstrip("\n"), progress.rstrip("\n")


@cache
def _template() -> Template:
    text = resources.files("aai_mcp.uplink").joinpath("upload_page.html").read_text(encoding="utf-8")
    return Template(text)


def render(link: UploadLink | None, state: str, link_url: str, nonce: str) -> str:
    """The page for a link in `state` (`unknown` when there is none)."""
    waiting = state == "waiting"
    max_bytes = link.max_bytes if link is not None else 0
    expiry = ""
    if waiting and link is not None:
        until = datetime.fromtimestamp(link.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        expiry = f"This link works once, until {until}."
    return _template().substitute(
        nonce=nonce,
        upload_client=upload_script(),
        drop_zone=upload_parts()[0],
        progress=upload_parts()[1],
        title=html.escape(TITLES.get(state, TITLES["unknown"])),
        state=html.escape(state),
        max_bytes=str(max_bytes),
        max_shown=html.escape(shown_size(max_bytes)),
        message=html.escape(MESSAGES.get(state, "")),
        message_class="done" if state == "done" else "error",
        message_hidden="hidden" if waiting else "",
        upload_hidden="" if waiting else "hidden",
        link=html.escape(link_url),
        expiry=html.escape(expiry),
    )


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def shown_size(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"
