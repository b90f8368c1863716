"""POST /webhooks/assemblyai: AssemblyAI's completion webhook, `{"transcript_id", "status"}` with the
secret header the gateway gave it on submission.

In order: the header (constant-time compare; wrong or missing: 401, nothing stored), the body (at most
MAX_BODY_BYTES: 413; not the webhook's shape: 400), the transcript id recorded as pending in the store
(it cannot be: 503, and AssemblyAI tries again), the answer (202). Only after the answer: every
instance's waiters on the transcript are woken (shared state), and the capture fetches and stores it.
One log line per webhook, without the header or the body.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Any

import anyio
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from aai_mcp.config.settings import Settings
from aai_mcp.state.shared import SharedState
from aai_mcp.state.store import store_errors
from aai_mcp.webhooks.background_capture import WebhookCapture
from aai_mcp.webhooks.submission import TRANSCRIPT_NEWS

log = logging.getLogger("aai_mcp.webhooks")

MAX_BODY_BYTES = 4096
"""The webhook's body is two short fields; anything much larger is not AssemblyAI."""
FINISHED = ("completed", "error")
_TRANSCRIPT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class TooLarge(Exception):
    pass


class WebhookEndpoint:
    def __init__(self, settings: Settings, capture: WebhookCapture, shared: SharedState) -> None:
        assert settings.webhook_auth_header_value is not None
        self.header = settings.webhook_auth_header_name
        self.secret = settings.webhook_auth_header_value.get_secret_value().encode()
        self.capture = capture
        self.shared = shared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._answer(request)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> JSONResponse:
        if not self._authentic(request):
            return _refused(401, "missing or wrong webhook auth header", "unauthorized")
        try:
            notification = parse_notification(await _bounded_body(request))
        except TooLarge:
            return _refused(413, "body too large", "body too large")
        except ClientDisconnect:
            return _refused(400, "body cut short", "incomplete body")
        if notification is None:
            return _refused(400, "not a transcript webhook", "expected {transcript_id, status}")
        transcript_id, status = notification
        try:
            await anyio.to_thread.run_sync(self.capture.record, transcript_id)
        except store_errors() as exc:
            log.warning("webhook transcript=%s status=%s answer=503 (store: %s)", transcript_id, status,
                        type(exc).__name__)  # fmt: skip
            return JSONResponse({"error": "cannot record the webhook now; try again"}, status_code=503)
        log.info("webhook transcript=%s status=%s answer=202", transcript_id, status)
        after = BackgroundTask(self._after_answer, transcript_id, status)
        answer = {"transcript_id": transcript_id, "accepted": True}
        return JSONResponse(answer, status_code=202, background=after)

    def _authentic(self, request: Request) -> bool:
        given = request.headers.getlist(self.header)
        # Exactly one header: two would leave which one a proxy in front checked to chance.
        return len(given) == 1 and hmac.compare_digest(given[0].encode("latin-1"), self.secret)

    async def _after_answer(self, transcript_id: str, status: str) -> None:
        await self.shared.publish(TRANSCRIPT_NEWS, {"transcript_id": transcript_id, "status": status})
        self.capture.hand_off(transcript_id)


def parse_notification(body: bytes) -> tuple[str, str] | None:
    """(transcript_id, status) of a transcript-ready webhook; None for anything else."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    transcript_id, status = data.get("transcript_id"), data.get("status")
    if not isinstance(transcript_id, str) or not _TRANSCRIPT_ID.match(transcript_id):
        return None
    if status not in FINISHED:
        return None
    return transcript_id, status


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge
    return bytes(body)


def _refused(status: int, why: str, message: str) -> JSONResponse:
    log.info("webhook refused answer=%d (%s)", status, why)
    return JSONResponse({"error": message}, status_code=status)
