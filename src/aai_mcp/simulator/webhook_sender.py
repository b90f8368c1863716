"""Completion webhooks, as AssemblyAI sends them: when a transcript submitted with `webhook_url`
completes or fails, POST `{"transcript_id", "status"}` with the auth header it was given, retried on
anything but a 2xx or 4xx (10 attempts in all), the last answer's status kept as the transcript's
`webhook_status_code`.

The simulator is offline: it delivers only to loopback addresses (an IP literal or `localhost`), so no
test ever resolves a public name; a webhook to anywhere else is never sent and keeps no status code.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio
import httpx

from .jobs import TranscriptRecord

log = logging.getLogger("aai_mcp.simulator")

MAX_ATTEMPTS = 10
"""AssemblyAI's: up to 10 attempts in total, none after a 4xx (ENDPOINTS.md, webhooks)."""
ANSWER_SECONDS = 10.0
"""How long a receiver has to answer, as upstream allows."""
FIRST_RETRY_SECONDS = 0.2
MAX_RETRY_SECONDS = 5.0
# How often the sender looks for jobs that finished: the clock may be a test's, moved at will.
LOOK_SECONDS = 0.05


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class WebhookOutbox:
    """Transcripts whose webhook is still to send, and a count of delivery attempts per answer."""

    waiting: list[TranscriptRecord] = field(default_factory=list)
    attempts: int = 0
    failed_attempts: int = 0
    fail_every: int = 0
    """Fault hook: every `fail_every`th attempt fails as if the receiver had answered 503 (and is
    retried); 10 fails one attempt in ten. 0: none."""

    def submitted(self, record: TranscriptRecord) -> None:
        if record.params.get("webhook_url"):
            self.waiting.append(record)

    def due(self, is_finished: Callable[[TranscriptRecord], bool]) -> list[TranscriptRecord]:
        """The waiting transcripts that finished, taken out of the outbox. Each is asked once: asked
        twice, one that finished between the two questions left the outbox without being sent."""
        ready: list[TranscriptRecord] = []
        waiting: list[TranscriptRecord] = []
        for record in self.waiting:
            (ready if is_finished(record) else waiting).append(record)
        self.waiting = waiting
        return ready

    def clear(self) -> None:
        self.waiting.clear()
        self.attempts = self.failed_attempts = self.fail_every = 0


class WebhookSender:
    """Sends the outbox's webhooks while `running`; `transport` replaces the network (in-process tests
    deliver straight into the gateway's ASGI app)."""

    def __init__(
        self,
        outbox: WebhookOutbox,
        status_of: Callable[[TranscriptRecord], str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.outbox = outbox
        self.status_of = status_of
        self.transport = transport

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with (
            httpx.AsyncClient(transport=self.transport, timeout=ANSWER_SECONDS, trust_env=False) as client,
            anyio.create_task_group() as group,
        ):
            group.start_soon(self._send_due, client, group)
            try:
                yield
            finally:
                group.cancel_scope.cancel()

    async def _send_due(self, client: httpx.AsyncClient, group: anyio.abc.TaskGroup) -> None:
        while True:
            for record in self.outbox.due(lambda r: self.status_of(r) in ("completed", "error")):
                group.start_soon(self.deliver, client, record)
            await anyio.sleep(LOOK_SECONDS)

    async def deliver(self, client: httpx.AsyncClient, record: TranscriptRecord) -> None:
        """Send one webhook until it is answered 2xx or 4xx, or the attempts run out."""
        url = str(record.params["webhook_url"])
        if not is_loopback_url(url):
            return
        body = {"transcript_id": record.transcript_id, "status": self.status_of(record)}
        pause = FIRST_RETRY_SECONDS
        for _ in range(MAX_ATTEMPTS):
            status = await self._attempt(client, url, record, body)
            record.webhook_status_code = status
            if status is not None and status < 500 and status != 429:
                return
            await anyio.sleep(pause)
            pause = min(pause * 2, MAX_RETRY_SECONDS)

    async def _attempt(
        self, client: httpx.AsyncClient, url: str, record: TranscriptRecord, body: dict[str, str]
    ) -> int | None:
        self.outbox.attempts += 1
        if self.outbox.fail_every and self.outbox.attempts % self.outbox.fail_every == 0:
            self.outbox.failed_attempts += 1
            return 503
        try:
            response = await client.post(url, json=body, headers=_auth_header(record))
        except httpx.HTTPError as exc:
            log.info("webhook for %s not delivered: %s", record.transcript_id, type(exc).__name__)
            self.outbox.failed_attempts += 1
            return None
        if not response.is_success:
            self.outbox.failed_attempts += 1
        return response.status_code


def _auth_header(record: TranscriptRecord) -> dict[str, str]:
    name = record.params.get("webhook_auth_header_name")
    value = record.params.get("webhook_auth_header_value")
    return {str(name): str(value)} if name and value is not None else {}
