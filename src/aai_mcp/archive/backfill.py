"""`archive backfill`: page through AssemblyAI's transcript list, fetch each finished transcript (and
the views asked for), store it, and record after every page where the run stands.

Resuming: the checkpoint names the last page whose transcripts are all stored; a run stopped anywhere
(a crash, Ctrl-C, kill -9) starts again from that cursor, and the transcripts of the page it was in
that are already archived are not fetched again. Each transcript is one upsert by id, so nothing is
lost and nothing is stored twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from aai_mcp.archive.capture import FINISHED, Fetcher, Views, created_at, each_at_most, listed_deleted
from aai_mcp.archive.pacing import Pacer
from aai_mcp.archive.sources import Source
from aai_mcp.state.archive_store import ArchiveStore, Checkpoint
from aai_mcp.upstream.client import Upstream


@dataclass(frozen=True)
class BackfillPlan:
    """What to archive (the list's filters) and what to fetch with each transcript."""

    status: Literal["completed", "error"] = "completed"
    since: date | None = None
    until: date | None = None
    after_id: str | None = None
    before_id: str | None = None
    sentences: bool = False
    paragraphs: bool = False
    subtitles: bool = False
    page_size: int = 100
    concurrency: int = 4
    refresh: bool = False
    """Fetch and store again transcripts the archive already holds."""

    @property
    def views(self) -> Views:
        return Views(self.sentences, self.paragraphs, self.subtitles)

    @property
    def upward(self) -> bool:
        """Only --after-id: page toward newer transcripts (next_url), else toward older (prev_url)."""
        return self.after_id is not None and self.before_id is None

    def filters(self) -> dict[str, Any]:
        fields = asdict(self)
        for name in ("page_size", "concurrency"):
            fields.pop(name)
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in fields.items()}

    def run_key(self) -> str:
        """The same plan resumes the same run; another plan is a run of its own."""
        return hashlib.sha256(json.dumps(self.filters(), sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class Progress:
    """Counts of the run so far (this process's part and the checkpoint's before it)."""

    archived: int = 0
    already: int = 0
    skipped: int = 0
    gone: int = 0
    duplicates: int = 0
    """Archived transcripts whose audio an older one of the same account had (at the run's end)."""
    pages: int = 0
    resumed_from: str | None = None
    oldest_seen: datetime | None = None
    newest_seen: datetime | None = None
    waits: list[float] = field(default_factory=list)


Report = Callable[[Progress, bool], None]
"""Called after each transcript (False) and after each page (True)."""


@dataclass
class Backfill:
    upstream: Upstream
    archive: ArchiveStore
    plan: BackfillPlan
    pacer: Pacer
    report: Report = lambda _progress, _page: None
    progress: Progress = field(default_factory=Progress)
    source: Source = field(default_factory=Source)
    """Whose list this run pages through (`upstream` sends with its key); its own checkpoint."""

    @property
    def fetcher(self) -> Fetcher:
        return Fetcher(self.upstream, self.pacer, self.plan.views, self.archive, self.source.account)

    def run_key(self) -> str:
        """The plan's run for the server's own key (as before accounts), one per other key."""
        if self.source.name is None:
            return self.plan.run_key()
        return hashlib.sha256(f"{self.plan.run_key()}:{self.source.name}".encode()).hexdigest()[:32]

    async def run(self) -> Progress:
        checkpoint = self._start()
        cursor = checkpoint.cursor_id or (self.plan.after_id if self.plan.upward else self.plan.before_id)
        while True:
            body = await self.fetcher.page(self._list_params(cursor))
            items: list[dict[str, Any]] = body.get("transcripts") or []
            wanted, stop = self._select(items)
            await self._store_all(wanted)
            if items:
                cursor = items[0]["id"] if self.plan.upward else items[-1]["id"]
            self._record_page(checkpoint, cursor)
            link = body.get("page_details", {}).get("next_url" if self.plan.upward else "prev_url")
            if stop or not items or link is None:
                break
        checkpoint.finished_at = datetime.now(UTC).timestamp()
        self.archive.save_checkpoint(checkpoint)
        self.progress.duplicates = self.archive.duplicate_count()
        return self.progress

    def _start(self) -> Checkpoint:
        key = self.run_key()
        found = self.archive.checkpoint(key)
        if found is not None and found.finished_at is None:
            self.progress.resumed_from = found.cursor_id
            self.progress.archived, self.progress.skipped, self.progress.pages = (
                found.archived,
                found.skipped,
                found.pages,
            )
            return found
        filters = self.plan.filters()
        if self.source.name is not None:
            filters["key"] = self.source.name
        fresh = Checkpoint(key, filters)
        self.archive.save_checkpoint(fresh)
        return fresh

    def _list_params(self, cursor: str | None) -> dict[str, str]:
        params = {"limit": str(self.plan.page_size), "status": self.plan.status}
        if self.plan.since is not None and self.plan.since == self.plan.until:
            params["created_on"] = self.plan.since.isoformat()
        if cursor is not None:
            params["after_id" if self.plan.upward else "before_id"] = cursor
        return params

    def _select(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """The items to store, and whether the list goes no further for this plan."""
        wanted: list[dict[str, Any]] = []
        stop = False
        for item in items:
            created = created_at(item)
            self._saw(created)
            day = created.date() if created else None
            if not self.plan.upward and item["id"] == self.plan.after_id:
                return wanted, True  # --before-id with --after-id: down to the lower bound
            if day is not None and self.plan.since is not None and day < self.plan.since:
                stop = stop or not self.plan.upward  # newest first: all further ones are older
                continue
            if (day is not None and self.plan.until is not None and day > self.plan.until) or item.get(
                "status"
            ) not in FINISHED:
                self.progress.skipped += 1
                continue
            wanted.append(item)
        return wanted, stop

    def _saw(self, created: datetime | None) -> None:
        if created is None:
            return
        progress = self.progress
        progress.newest_seen = max(filter(None, (progress.newest_seen, created)))
        progress.oldest_seen = min(filter(None, (progress.oldest_seen, created)))

    async def _store_all(self, listed: list[dict[str, Any]]) -> None:
        items = listed_deleted(self.archive, listed)
        self.progress.gone += len(listed) - len(items)
        held = set() if self.plan.refresh else self.archive.archived_ids(i["id"] for i in items)
        self.progress.already += len(held)
        todo = [i for i in items if i["id"] not in held]
        await each_at_most(self.plan.concurrency, todo, self._store)

    async def _store(self, item: dict[str, Any]) -> None:
        transcript = await self.fetcher.transcript(item)
        if transcript is None:
            self.progress.gone += 1  # deleted or expired between the list and the fetch
            return
        self.archive.upsert(transcript)
        self.progress.archived += 1
        self.report(self.progress, False)

    def _record_page(self, checkpoint: Checkpoint, cursor: str | None) -> None:
        self.progress.pages += 1
        self.progress.waits = list(self.pacer.waits)
        checkpoint.cursor_id = cursor
        checkpoint.pages = self.progress.pages
        checkpoint.archived = self.progress.archived
        checkpoint.skipped = self.progress.skipped
        self.archive.save_checkpoint(checkpoint)
        self.report(self.progress, True)
