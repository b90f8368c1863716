"""A transcript list's `page_details` links, moved onto the proxy.

Upstream names the previous and next pages with its own absolute URLs, and the SDKs page by
fetching those as they are (the JavaScript SDK's `transcripts.list(page.page_details.prev_url)`):
relayed unchanged, the next page would go straight to upstream's host with the team token. So in a
successful list answer from the API host, those two links (only those) get the proxy's own public
URL for the same path and query.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import URL
from starlette.types import Scope

from aai_mcp.proxy.allowlist import Target
from aai_mcp.upstream.affinity import TRANSCRIPTS

LINKS = ("prev_url", "next_url")

Rewrite = Callable[[bytes], bytes | None]


def page_links_rewrite(scope: Scope, target: Target, proxy_prefix: str, upstream_base: str) -> Rewrite | None:
    """How to rewrite this answer's page links, or None when it is not a transcript list."""
    if not (target.host == "api" and scope["method"] == "GET" and target.path == TRANSCRIPTS):
        return None
    # Scheme and host as uvicorn presents them (its proxy-headers handling already applied); the
    # Host header was checked against the allowed hosts before the request got here.
    url = URL(scope=scope)
    public = f"{url.scheme}://{url.netloc}{proxy_prefix}"
    upstream_prefix = urlsplit(upstream_base).path.rstrip("/")
    return partial(rewritten_page, public_base=public, upstream_prefix=upstream_prefix)


def rewritten_page(body: bytes, public_base: str, upstream_prefix: str) -> bytes | None:
    """The list answer with its page links under `public_base`, or None when there is nothing to
    rewrite (not a JSON object, no page_details, both links null)."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return None
    details = document.get("page_details") if isinstance(document, dict) else None
    if not isinstance(details, dict):
        return None
    links = [name for name in LINKS if isinstance(details.get(name), str)]
    if not links:
        return None
    for name in links:
        details[name] = _on_proxy(details[name], public_base, upstream_prefix)
    # The separators starlette's JSONResponse (and so the simulator) uses: only the links change.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _on_proxy(link: str, public_base: str, upstream_prefix: str) -> str:
    parts = urlsplit(link)
    path = parts.path
    # An API base URL with a path of its own (a corporate proxy's prefix) is not part of the API path.
    if upstream_prefix and path.startswith(upstream_prefix + "/"):
        path = path[len(upstream_prefix) :]
    return public_base + path + (f"?{parts.query}" if parts.query else "")
