"""Upload links from creation to outcome, for every front door: the tools create and wait for them, the
upload page and PUT fill them. State lives in the store (any instance serves or answers about any
link); every change is also published on shared state, so waiters on other instances wake at once
instead of polling the store.

The bytes go through `Upstream.upload`, the streaming path upload_file uses: read from the person's
connection chunk by chunk and written on to AssemblyAI's /v2/upload as they come, never held whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from aai_mcp.catalog.model import Route
from aai_mcp.state.shared import Message, SharedState
from aai_mcp.uplink.media_sniff import HEAD_BYTES, media_container
from aai_mcp.upstream import Upstream, UpstreamError

if TYPE_CHECKING:
    from aai_mcp.state.upload_link_store import LinkCredential, UploadLink, UploadLinks

log = logging.getLogger("aai_mcp.uplink")

# How often a running upload writes its byte count to the store and tells waiters: often enough for a
# progress bar in the chat, rarely enough that a 2 GB upload costs ~a thousand small writes, not millions.
PROGRESS_EVERY_SECONDS = 1.0
# Waiters re-read the store this often even when no news came: pub/sub is best effort.
RECHECK_SECONDS = 5.0
Report = Callable[["UploadLink"], Awaitable[None]]


class LinkRefused(Exception):
    """The link cannot take this upload: `status` is the HTTP answer, `code` what the page shows."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _TooLarge(Exception):
    pass


def channel(link_id: str) -> str:
    return f"upload-link:{link_id}"


def refusal_for(link: UploadLink, now: float) -> LinkRefused | None:
    """Why a link takes no upload now (None: it waits for one)."""
    state = link.state(now)
    if state == "expired":
        return LinkRefused(410, "expired", "This upload link has expired. Ask for a new one in your chat.")
    if state != "waiting":
        return _used()
    return None


def _used() -> LinkRefused:
    return LinkRefused(409, "used", "This upload link was already used. Ask for a new one in your chat.")


@dataclass
class LinkUploads:
    links: UploadLinks
    shared: SharedState
    upstream_for: Callable[[str], Upstream]
    """The upstream an account's uploads go through (its key, its key pool, metered for its team)."""
    route: Route
    """The declared upload call, POST api:/v2/upload."""
    public_url: str | None
    max_bytes: int
    clock: Callable[[], float] = field(default=time.time)

    def url(self, credential: LinkCredential) -> str:
        assert self.public_url is not None, "create_upload_link checks public_url first"
        return f"{self.public_url}/u/{credential.token}"

    async def create(self, account: str, ttl_seconds: float) -> tuple[str, UploadLink]:
        credential, link = await anyio.to_thread.run_sync(
            self.links.create, account, self.max_bytes, ttl_seconds
        )
        log.info("upload link %s created for account=%s", link.link_id, account)
        return self.url(credential), link

    async def find(self, credential: LinkCredential) -> UploadLink | None:
        return await anyio.to_thread.run_sync(self.links.find, credential)

    async def get(self, link_id: str) -> UploadLink | None:
        return await anyio.to_thread.run_sync(self.links.get, link_id)

    async def receive(self, link: UploadLink, body: AsyncIterator[bytes], size: int | None) -> UploadLink:
        """Take the link's one upload from `body` (`size` bytes when the request said so) to AssemblyAI.
        LinkRefused when the link or the file is refused; the link is used up only once the file's
        first bytes showed audio or video, so a person who picked the wrong file may pick again."""
        refused = refusal_for(link, self.clock())
        if refused is None and size is not None and size > link.max_bytes:
            refused = _too_large(link.max_bytes)
        if refused is None and size == 0:
            refused = LinkRefused(400, "empty", "The file is empty.")
        if refused is not None:
            raise refused
        head, rest = await _head_of(body)
        if media_container(head) is None:
            raise LinkRefused(
                415, "not_media", "This file is not audio or video. Pick a recording (mp3, wav, m4a, mp4…)."
            )
        if not await anyio.to_thread.run_sync(self.links.claim, link.link_id):
            # Another upload claimed it meanwhile, or it expired while the first bytes came.
            current = await self.get(link.link_id) or link
            raise refusal_for(current, self.clock()) or _used()
        await self._announce(link.link_id, "receiving", 0)
        return await self._relay(link, _chained(head, rest), size)

    async def _relay(self, link: UploadLink, chunks: AsyncIterator[bytes], size: int | None) -> UploadLink:
        counter = _Counter(self, link)
        try:
            answer = await self.upstream_for(link.account).upload(self.route, counter.counted(chunks), size)
        except _TooLarge:
            await self._fail(
                link, counter.received, f"The file is larger than this link's {_shown(link.max_bytes)} cap."
            )
            raise _too_large(link.max_bytes) from None
        except UpstreamError as exc:
            await self._fail(link, counter.received, f"AssemblyAI refused the upload: {exc.message}")
            raise LinkRefused(
                502, "upstream", "AssemblyAI did not take the file. Ask for a new link and try again."
            ) from None
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._fail(
                    link, counter.received, "The upload was interrupted before the whole file arrived."
                )
            raise
        upload_url = str(answer["upload_url"])
        await anyio.to_thread.run_sync(self.links.finish, link.link_id, counter.received, upload_url)
        await self._announce(link.link_id, "done", counter.received)
        log.info("upload link %s done: %d bytes", link.link_id, counter.received)
        return await self.get(link.link_id) or link

    async def _fail(self, link: UploadLink, received: int, reason: str) -> None:
        await anyio.to_thread.run_sync(self.links.fail, link.link_id, received, reason)
        await self._announce(link.link_id, "failed", received)
        log.info("upload link %s failed after %d bytes", link.link_id, received)

    async def _announce(self, link_id: str, state: str, received: int) -> None:
        await self.shared.publish(channel(link_id), {"state": state, "bytes": received})

    async def wait(self, link_id: str, timeout: float, report: Report) -> UploadLink | None:
        """The link once it is done, failed or expired, or as it is after `timeout` seconds; `report`
        hears each change of its byte count meanwhile. None when the link does not exist."""
        deadline = anyio.current_time() + timeout
        async with self.shared.subscribe(channel(link_id)) as messages, anyio.create_task_group() as group:
            news = _News()
            group.start_soon(news.follow, messages)
            link = await self._watch(link_id, deadline, news, report)
            group.cancel_scope.cancel()
        return link

    async def _watch(self, link_id: str, deadline: float, news: _News, report: Report) -> UploadLink | None:
        link, reported = await self.get(link_id), -1
        from aai_mcp.state.upload_link_store import TERMINAL  # SQL-backed: loaded on first use

        while link is not None and link.state(self.clock()) not in TERMINAL:
            if link.bytes_received != reported:
                reported = link.bytes_received
                await report(link)
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                break
            await news.next(min(remaining, RECHECK_SECONDS))
            link = await self.get(link_id)
        return link


class _Counter:
    """Counts the bytes going through, stops past the cap, and reports progress now and then."""

    def __init__(self, service: LinkUploads, link: UploadLink) -> None:
        self.service, self.link = service, link
        self.received = 0
        self._reported_at = time.monotonic()

    async def counted(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.received += len(chunk)
            if self.received > self.link.max_bytes:
                raise _TooLarge
            yield chunk
            if time.monotonic() - self._reported_at >= PROGRESS_EVERY_SECONDS:
                self._reported_at = time.monotonic()
                links, link_id = self.service.links, self.link.link_id
                await anyio.to_thread.run_sync(links.record_progress, link_id, self.received)
                await self.service._announce(link_id, "receiving", self.received)


class _News:
    """Wakes a waiter when a message arrives on the link's channel (read by a task of its own, so a
    timeout never cuts a subscription's iterator mid-read)."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    async def follow(self, messages: AsyncIterator[Message]) -> None:
        async for _ in messages:
            self._event.set()

    async def next(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._event.wait()
        self._event = anyio.Event()


async def _head_of(body: AsyncIterator[bytes]) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first HEAD_BYTES (fewer for a tiny file), and the body from there on."""
    head = b""
    async for chunk in body:
        head += chunk
        if len(head) >= HEAD_BYTES:
            break
    return head, body


async def _chained(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield head
    async for chunk in rest:
        yield chunk


def _too_large(cap: int) -> LinkRefused:
    return LinkRefused(413, "too_large", f"The file is larger than {_shown(cap)}, the most this link takes.")


def _shown(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"
