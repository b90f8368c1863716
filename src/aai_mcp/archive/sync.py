"""`archive sync`: one incremental round. Under the store lease "archive-sync" (one sync at a time,
from any number of processes or hosts sharing the store), it pages upward from its checkpoint (the
newest transcript it has listed) storing each new finished transcript and remembering the unfinished
ones (queued, processing) in the pending list; then it fetches each transcript pending from earlier
rounds and stores those that have finished since.

The checkpoint moves only after its page's transcripts are stored or pending, so a round stopped
anywhere loses nothing; each store is an upsert by id, so nothing is stored twice.

First round without a checkpoint: it starts after the newest transcript the archive holds (a backfill
before it), or, with an empty archive, from now (the newest listed transcript becomes the checkpoint
and nothing older is stored: that is what `archive backfill` is for).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aai_mcp.archive.capture import FINISHED, UNFINISHED, Fetcher, Views, each_at_most, listed_deleted
from aai_mcp.archive.pacing import Pacer
from aai_mcp.archive.sources import Source
from aai_mcp.state.archive_store import ArchiveStore, Checkpoint
from aai_mcp.state.store_leases import LeaseHolder, StoreLeases
from aai_mcp.upstream.client import Upstream

SYNC_RUN_KEY = "sync"
LEASE_NAME = "archive-sync"
# Renewed after every page and every pending batch; a crashed holder's lease lapses after this long.
LEASE_SECONDS = 300.0
# AssemblyAI deletes a transcript this long after it was made: a sync flags archived ones past it.
RETENTION_SECONDS = 90 * 86_400.0


@dataclass(frozen=True)
class SyncPlan:
    """What to fetch with each transcript, and how much at once."""

    views: Views = Views()
    page_size: int = 100
    concurrency: int = 4


@dataclass
class SyncCounts:
    """What one round did."""

    new: int = 0
    """Stored from the list (created since the checkpoint)."""
    completed: int = 0
    """Stored from the pending list (unfinished at an earlier round)."""
    pending: int = 0
    """Unfinished now, kept for the next round."""
    already: int = 0
    failed: int = 0
    """Listed or pending, then ended in error: not stored (backfill --status error keeps those)."""
    gone: int = 0
    expired: int = 0
    """Archived transcripts flagged upstream_deleted this round for being past the retention."""
    duplicates: int = 0
    """Archived transcripts whose audio an older one of the same account had (after the round)."""
    pages: int = 0
    started_from_now: bool = False


class SyncBusy(Exception):
    """Another sync holds the lease."""

    def __init__(self, holder: LeaseHolder | None) -> None:
        self.holder = holder
        if holder is None:  # released between our claim and this look
            super().__init__("another sync was running; this one does nothing")
            return
        until = datetime.fromtimestamp(holder.expires_at, UTC)
        super().__init__(
            f"another sync is running ({holder.holder}, lease until {until:%H:%M:%S} UTC); "
            "this one does nothing"
        )


class LeaseLost(Exception):
    """The lease lapsed while this sync worked (stalled past LEASE_SECONDS) and someone took it."""


def holder_name() -> str:
    """Who this process is in the lease table: host, pid and a nonce (pids repeat across hosts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Sync:
    upstream: Upstream
    archive: ArchiveStore
    leases: StoreLeases
    plan: SyncPlan
    pacer: Pacer
    holder: str = field(default_factory=holder_name)
    source: Source = field(default_factory=Source)
    """Whose list this sync pages through (`upstream` sends with its key): its own checkpoint and
    pending list."""

    async def run(self) -> SyncCounts:
        """One round under the lease; SyncBusy when another sync holds it."""
        if not self.leases.claim(LEASE_NAME, self.holder, LEASE_SECONDS):
            raise SyncBusy(self.leases.holder(LEASE_NAME))
        try:
            return await self._round(SyncCounts())
        finally:
            self.leases.release(LEASE_NAME, self.holder)

    @property
    def fetcher(self) -> Fetcher:
        return Fetcher(self.upstream, self.pacer, self.plan.views, self.archive, self.source.account)

    @property
    def run_key(self) -> str:
        return SYNC_RUN_KEY if self.source.name is None else f"{SYNC_RUN_KEY}:{self.source.name}"

    async def _round(self, counts: SyncCounts) -> SyncCounts:
        earlier = self.archive.pending_ids(self.source.name)
        checkpoint = await self._checkpoint(counts)
        await self._list_new(checkpoint, counts)
        await self._finish_pending(earlier, counts)
        counts.pending = len(self.archive.pending_ids(self.source.name))
        # Expiry needs no upstream call (upstream deletes at 90 days), and refetching every archived
        # row each round would cost one GET per row: deletions show only in pages the round lists.
        counts.expired = self.archive.mark_past_retention(time.time() - RETENTION_SECONDS)
        counts.duplicates = self.archive.duplicate_count()
        checkpoint.finished_at = datetime.now(UTC).timestamp()
        self.archive.save_checkpoint(checkpoint)
        return counts

    async def _checkpoint(self, counts: SyncCounts) -> Checkpoint:
        found = self.archive.checkpoint(self.run_key)
        if found is not None:
            return found
        held = self.archive.newest_id(self.source.account)
        fresh = Checkpoint(self.run_key, {"sync": True, "key": self.source.name}, cursor_id=held)
        if fresh.cursor_id is None:
            counts.started_from_now = True
            newest = (await self.fetcher.page({"limit": "1"})).get("transcripts") or []
            fresh.cursor_id = newest[0]["id"] if newest else None
        self.archive.save_checkpoint(fresh)
        return fresh

    async def _list_new(self, checkpoint: Checkpoint, counts: SyncCounts) -> None:
        while True:
            params = {"limit": str(self.plan.page_size)}
            if checkpoint.cursor_id is not None:
                params["after_id"] = checkpoint.cursor_id
            body = await self.fetcher.page(params)
            items: list[dict[str, Any]] = body.get("transcripts") or []
            if not items:
                return
            stored_before = counts.new
            await self._take_page(items, counts)
            checkpoint.archived += counts.new - stored_before
            checkpoint.cursor_id = items[0]["id"]  # newest first: the page's newest
            checkpoint.pages += 1
            self.archive.save_checkpoint(checkpoint)
            self._keep_lease()
            if body.get("page_details", {}).get("next_url") is None:
                return

    async def _take_page(self, items: list[dict[str, Any]], counts: SyncCounts) -> None:
        counts.pages += 1
        unfinished = (i["id"] for i in items if i.get("status") in UNFINISHED)
        self.archive.add_pending(unfinished, self.source.name)
        finished = listed_deleted(self.archive, [i for i in items if i.get("status") in FINISHED])
        counts.gone += sum(1 for i in items if i.get("status") in FINISHED) - len(finished)
        held = self.archive.archived_ids(i["id"] for i in finished)
        counts.already += len(held)
        todo = [i for i in finished if i["id"] not in held]

        async def store(item: dict[str, Any]) -> None:
            if item.get("status") != "completed":
                counts.failed += 1
            elif await self._store(item, counts):
                counts.new += 1

        await each_at_most(self.plan.concurrency, todo, store)

    async def _finish_pending(self, ids: list[str], counts: SyncCounts) -> None:
        async def check(item: dict[str, Any]) -> None:
            if await self._store(item, counts):
                counts.completed += 1

        await each_at_most(self.plan.concurrency, [{"id": i} for i in ids], check)
        self._keep_lease()

    async def _store(self, item: dict[str, Any], counts: SyncCounts) -> bool:
        """Fetch `item` and store it when completed; True when stored. Whatever ended (completed,
        error, gone) leaves the pending list; what is still unfinished stays or joins it."""
        transcript = await self.fetcher.transcript(item)
        if transcript is None:
            counts.gone += 1
        elif transcript.status in UNFINISHED:
            self.archive.add_pending([transcript.transcript_id], self.source.name)
            return False
        elif transcript.status == "completed":
            self.archive.upsert(transcript)
        else:
            counts.failed += 1
        self.archive.drop_pending(item["id"])
        return transcript is not None and transcript.status == "completed"

    def _keep_lease(self) -> None:
        if not self.leases.claim(LEASE_NAME, self.holder, LEASE_SECONDS):
            raise LeaseLost(f"the sync lease lapsed and {self.leases.holder(LEASE_NAME)} took it")
