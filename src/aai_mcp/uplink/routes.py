"""The upload-link front door, mounted at /u: GET shows the upload page, PUT (curl -T, and the page's
own request) and POST stream one file through to AssemblyAI.

No token is asked for: the link is the credential. So every request is counted against its client
address first (a bounded rate, across instances when state is shared), a link that is not one costs
one indexed read, and nothing here logs more of a link than its public id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from aai_mcp.config.settings import Settings
from aai_mcp.state.shared import SharedState
from aai_mcp.uplink.link_service import LinkRefused, LinkUploads
from aai_mcp.uplink.page import MESSAGES, new_nonce, render, security_headers

if TYPE_CHECKING:
    from aai_mcp.state.upload_link_store import UploadLink

log = logging.getLogger("aai_mcp.uplink")
LINK_PREFIX = "/u"
RATE_WINDOW_SECONDS = 60.0
OFF = LinkRefused(404, "off", "Upload links are not enabled on this server.")
# The upload widget (an MCP Apps view) sends from the chat host's sandbox origin, which no list can
# name: the link is the credential, so any origin may send to it, never with cookies or auth.
CROSS_ORIGIN = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    **CROSS_ORIGIN,
    "Access-Control-Allow-Methods": "PUT, POST",
    "Access-Control-Allow-Headers": "Accept, Content-Type",
    "Access-Control-Max-Age": "600",
}
UNKNOWN = LinkRefused(404, "unknown", "This upload link does not exist, or it was mistyped.")


class UploadLinkApp:
    """ASGI app for /u/{link}; `service` is read per request (the store is attached after start-up)."""

    def __init__(
        self, service: Callable[[], LinkUploads | None], shared: SharedState, settings: Settings
    ) -> None:
        self.service = service
        self.shared = shared
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._answer(request)
        if request.method != "GET" and request.method != "HEAD":
            response.headers.update(CROSS_ORIGIN)
        response.headers.update({k: v for k, v in security_headers().items() if k not in response.headers})
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        if request.method not in ("GET", "HEAD", "PUT", "POST"):
            return PlainTextResponse(
                "Method not allowed.\n", status_code=405, headers={"Allow": "GET, PUT, POST, OPTIONS"}
            )
        if await self._over_rate(request):
            return _refusal(request, LinkRefused(429, "rate_limited", "Too many requests; wait a minute."))
        service = self.service()
        from aai_mcp.state.upload_link_store import parse_link  # SQL-backed: loaded on first use

        credential = parse_link(request.url.path)
        if service is None:
            return _refusal(request, OFF)
        link = None if credential is None else await service.find(credential)
        if request.method in ("GET", "HEAD"):
            return _page(service, link, request)
        if link is None:
            return _refusal(request, UNKNOWN)
        return await self._upload(service, link, request)

    async def _over_rate(self, request: Request) -> bool:
        client = request.client.host if request.client else "unknown"
        counted = await self.shared.count_hit(f"upload-link-client:{client}", RATE_WINDOW_SECONDS)
        return counted.count > self.settings.upload_link_requests_per_minute

    async def _upload(self, service: LinkUploads, link: UploadLink, request: Request) -> Response:
        try:
            done = await service.receive(link, request.stream(), _declared_size(request))
        except LinkRefused as refused:
            log.info("upload link %s refused an upload: %s", link.link_id, refused.code)
            return _refusal(request, refused)
        except ClientDisconnect:
            return PlainTextResponse("The upload was interrupted.\n", status_code=400)
        if _wants_json(request):
            return JSONResponse({"state": "done", "bytes_received": done.bytes_received})
        return PlainTextResponse(f"Uploaded {done.bytes_received} bytes. Go back to your chat.\n")


def _page(service: LinkUploads, link: UploadLink | None, request: Request) -> Response:
    state = "unknown" if link is None else link.state(service.clock())
    status = 200 if link is not None else 404
    if _wants_json(request):
        # What the upload widget asks before it offers the drop zone, and after a broken upload: the
        # state and the page's own sentence for it (a refused PUT is cut off before the answer).
        answer = {"state": state, "message": MESSAGES.get(state, "")}
        return JSONResponse(answer, status_code=status, headers=CROSS_ORIGIN)
    nonce = new_nonce()
    shown = f"{service.public_url}{request.url.path}" if service.public_url else str(request.url)
    page = render(link, state, shown, nonce)
    return HTMLResponse(page, status_code=status, headers=security_headers(nonce))


def _declared_size(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None or not value.isdigit():
        return None
    return int(value)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _refusal(request: Request, refused: LinkRefused) -> Response:
    # Closing the connection: the rest of a refused body is never read (it may be gigabytes).
    headers = {"Connection": "close"}
    if _wants_json(request):
        body = {"error": {"code": refused.code, "message": refused.message}}
        return JSONResponse(body, status_code=refused.status, headers=headers)
    return PlainTextResponse(refused.message + "\n", status_code=refused.status, headers=headers)
