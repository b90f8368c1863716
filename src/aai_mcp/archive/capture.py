"""Fetching one listed transcript (with the views asked for) into an `ArchivedTranscript`, and
storing a page of them a few at a time: what backfill and sync share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from aai_mcp.access.accounts import DEFAULT_ACCOUNT
from aai_mcp.archive.pacing import Pacer, paced_get
from aai_mcp.upstream.client import Upstream, decode_json, decode_text
from aai_mcp.upstream.errors import UpstreamError

if TYPE_CHECKING:
    from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore

LIST_PATH = "/v2/transcript"
FINISHED = ("completed", "error")
UNFINISHED = ("queued", "processing")
# What upstream leaves in audio_url after DELETE (listed and fetched alike): the content is gone.
DELETED_AUDIO_URL = "http://deleted_by_user"


@dataclass(frozen=True)
class Views:
    """What to fetch with each completed transcript besides itself."""

    sentences: bool = False
    paragraphs: bool = False
    subtitles: bool = False


@dataclass
class Fetcher:
    """GETs through the pacer: list pages, and transcripts with their views."""

    upstream: Upstream
    pacer: Pacer
    views: Views
    archive: ArchiveStore | None = None
    """Given, an archived copy of a transcript found gone upstream is flagged upstream_deleted."""
    account: str = DEFAULT_ACCOUNT
    """Whose transcripts these are (the account whose key `upstream` sends with)."""

    async def page(self, params: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = decode_json(await paced_get(self.upstream, self.pacer, LIST_PATH, params))
        return body

    async def transcript(self, item: dict[str, Any]) -> ArchivedTranscript | None:
        """The transcript `item` (a list entry, or just {"id": ...}) names; None when upstream no
        longer has it (deleted or expired since it was listed; its archived copy is flagged so)."""
        if deleted_upstream(item):
            return self._gone(item)  # listed as deleted: nothing left to fetch
        path = f"{LIST_PATH}/{item['id']}"
        try:
            body = decode_json(await paced_get(self.upstream, self.pacer, path))
        except UpstreamError as exc:
            if exc.status != 404:
                raise
            return self._gone(item)
        if deleted_upstream(body):
            return self._gone(item)  # a scrubbed copy must never replace the archived one
        extra: dict[str, Any] = {
            "account": self.account,
            "created_at": _epoch(created_at(item) or created_at(body)),
            "completed_at": _epoch(completed_at(item) or completed_at(body)),
        }
        if body.get("status") == "completed":
            extra.update(await self._views(path))
        from aai_mcp.state.archive_store import ArchivedTranscript  # SQL-backed: loaded on first use

        return ArchivedTranscript.from_upstream(body, **extra)

    def _gone(self, item: dict[str, Any]) -> ArchivedTranscript | None:
        """None: upstream has nothing; an archived copy is flagged so."""
        if self.archive is not None:
            self.archive.mark_upstream_deleted([str(item["id"])])
        return None

    async def _views(self, path: str) -> dict[str, Any]:
        views: dict[str, Any] = {}
        for name, wanted in (("sentences", self.views.sentences), ("paragraphs", self.views.paragraphs)):
            if wanted:
                views[name] = decode_json(await paced_get(self.upstream, self.pacer, f"{path}/{name}"))[name]
        if self.views.subtitles:
            for kind in ("srt", "vtt"):
                views[kind] = decode_text(await paced_get(self.upstream, self.pacer, f"{path}/{kind}"))
        return views


def deleted_upstream(transcript: dict[str, Any]) -> bool:
    """A list item or transcript upstream has deleted (DELETE keeps its id, status and duration)."""
    return transcript.get("audio_url") == DELETED_AUDIO_URL


def listed_deleted(archive: ArchiveStore, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flags the archived copies of the items the list shows deleted; the items left to fetch."""
    archive.mark_upstream_deleted(str(i["id"]) for i in items if deleted_upstream(i))
    return [i for i in items if not deleted_upstream(i)]


async def each_at_most(
    concurrency: int, items: list[dict[str, Any]], work: Callable[[dict[str, Any]], Awaitable[None]]
) -> None:
    """Run `work` on every item, `concurrency` at a time; the first failure cancels the rest and is
    raised as itself."""
    limiter = anyio.Semaphore(concurrency)

    async def one(item: dict[str, Any]) -> None:
        async with limiter:
            await work(item)

    try:
        async with anyio.create_task_group() as group:
            for item in items:
                group.start_soon(one, item)
    except BaseExceptionGroup as failed:
        # The first failure cancelled the rest: callers handle it as the error it is (an UpstreamError
        # says "run again"), not as a group their `except` clauses would miss.
        raise first_of(failed) from failed


def first_of(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return first_of(first) if isinstance(first, BaseExceptionGroup) else first


def created_at(item: dict[str, Any]) -> datetime | None:
    return _upstream_time(item.get("created"))


def completed_at(item: dict[str, Any]) -> datetime | None:
    return _upstream_time(item.get("completed"))


def _upstream_time(value: Any) -> datetime | None:
    """Upstream's list times have no zone; they are UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
