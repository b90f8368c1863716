"""`aai-mcp archive backfill`: copy AssemblyAI's transcripts into the store (SQLite under the data
directory, or PostgreSQL at AAI_MCP_DATABASE_URL), resumable. `aai-mcp archive sync`: the new and newly
finished ones since the last sync, once or `--every` interval.

Exit codes: 0 done (sync: also when another sync held the lease), 1 stopped by upstream or the store
(run again to resume), 2 the configuration is wrong, 130 interrupted (Ctrl-C; run again to resume).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from aai_mcp.config.archive_options import BackfillOptions, SyncOptions
from aai_mcp.config.settings import Settings

if TYPE_CHECKING:
    from aai_mcp.archive.backfill import BackfillPlan
    from aai_mcp.archive.sync import Sync
    from aai_mcp.state.store_sql import SqlStore
    from aai_mcp.upstream.client import Upstream


def plan_of(options: BackfillOptions) -> BackfillPlan:
    from aai_mcp.archive.backfill import BackfillPlan

    return BackfillPlan(
        status=options.status,
        since=options.since,
        until=options.until,
        after_id=options.after_id,
        before_id=options.before_id,
        sentences=options.sentences,
        paragraphs=options.paragraphs,
        subtitles=options.subtitles,
        page_size=options.page_size,
        concurrency=options.concurrency,
        refresh=options.refresh,
    )


def run_backfill(options: BackfillOptions, settings: Settings) -> int:
    return _in_store(settings, lambda store: _backfill_into(store, options, settings))


def run_sync(options: SyncOptions, settings: Settings) -> int:
    return _in_store(settings, lambda store: _sync_into(store, options, settings))


def _in_store(settings: Settings, work: Callable[[SqlStore], int]) -> int:
    """Open the store, run `work` in it, close it; the store's failures as exit codes."""
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.config.options import option_names
    from aai_mcp.delivery.destinations import DestinationError
    from aai_mcp.state.engines import StoreConfigError
    from aai_mcp.state.store import failure_reason
    from aai_mcp.state.store_migrations import SchemaMismatch
    from aai_mcp.state.store_sql import open_store

    try:
        store = open_store(settings.data_dir, settings.database_url, os.environ)
    except (StoreConfigError, SchemaMismatch) as exc:
        return error(str(exc), 2)
    except SQLAlchemyError as exc:
        return error(f"cannot reach the store: {failure_reason(exc)}", 1)
    try:
        return work(store)
    except DestinationError as exc:
        return error(f"{option_names('delivery_destinations')}: {exc}", 2)
    except SQLAlchemyError as exc:
        return error(f"the store failed: {failure_reason(exc)}; run again to resume", 1)
    finally:
        store.close()


def _backfill_into(store: SqlStore, options: BackfillOptions, settings: Settings) -> int:
    import anyio

    from aai_mcp.archive.backfill import Backfill
    from aai_mcp.archive.pacing import Pacer
    from aai_mcp.archive.progress_display import ProgressDisplay
    from aai_mcp.archive.sources import sources_of
    from aai_mcp.delivery.deliveries import archive_store_of
    from aai_mcp.upstream.errors import UpstreamError

    plan = plan_of(options)
    display = ProgressDisplay(sys.stderr, sys.stderr.isatty(), plan.since)
    print(f"aai-mcp archive: backfill into {store.shown}", file=sys.stderr, flush=True)

    sources = sources_of(settings)

    async def work() -> int:
        async with upstream_of(settings) as upstream:
            archive = archive_store_of(store.engine, settings)
            for source in sources:
                if len(sources) > 1:
                    print(f"aai-mcp archive: backfill of {source.shown()}", file=sys.stderr, flush=True)
                pacer = Pacer(options.max_per_second)
                backfill = Backfill(source.upstream(upstream), archive, plan, pacer, display, source=source)
                if (
                    resumed := backfill.archive.checkpoint(backfill.run_key())
                ) and resumed.finished_at is None:
                    print(
                        f"aai-mcp archive: resuming after page {resumed.pages}", file=sys.stderr, flush=True
                    )
                try:
                    display.finish(await backfill.run())
                except UpstreamError as exc:
                    return error(f"{exc}; run again to resume from page {backfill.progress.pages}", 1)
            return 0

    try:
        return anyio.run(work)
    except KeyboardInterrupt:
        return error("interrupted; run the same command again to resume", 130)


def _sync_into(store: SqlStore, options: SyncOptions, settings: Settings) -> int:
    import anyio

    from aai_mcp.archive.capture import Views
    from aai_mcp.archive.pacing import Pacer
    from aai_mcp.archive.schedule import every
    from aai_mcp.archive.sources import sources_of
    from aai_mcp.archive.sync import Sync, SyncPlan
    from aai_mcp.delivery.deliveries import archive_store_of
    from aai_mcp.delivery.running import delivering
    from aai_mcp.state.store_leases import StoreLeases

    views = Views(options.sentences, options.paragraphs, options.subtitles)
    plan = SyncPlan(views, options.page_size, options.concurrency)
    print(f"aai-mcp archive: sync into {store.shown}", file=sys.stderr, flush=True)

    sources = sources_of(settings)

    async def work() -> int:
        async with upstream_of(settings) as upstream:
            archive, leases = archive_store_of(store.engine, settings), StoreLeases(store.engine)
            syncs = [
                Sync(
                    source.upstream(upstream),
                    archive,
                    leases,
                    plan,
                    Pacer(options.max_per_second),
                    source=source,
                )
                for source in sources
            ]
            interval = options.every_seconds
            if interval is None:
                return await sync_all(syncs, 0)
            async with delivering(store.engine, settings):  # the delivery worker runs between rounds too
                await every(interval, lambda number: sync_all(syncs, number))
            return 0

    try:
        return anyio.run(work)
    except KeyboardInterrupt:
        return error("interrupted; the next sync goes on from the checkpoint", 130)


async def sync_all(syncs: list[Sync], number: int) -> int:
    """One round of each source's sync in turn (the first failure ends the round: 1)."""
    for sync in syncs:
        if len(syncs) > 1:
            print(f"aai-mcp archive: sync of {sync.source.shown()}", file=sys.stderr, flush=True)
        if await sync_round(sync, number) != 0:
            return 1
    return 0


async def sync_round(sync: Sync, number: int) -> int:
    """Run one round and say what it did; 0 also when another sync held the lease (its work is
    being done), 1 when upstream stopped it. Round 0: the only one (no --every)."""
    from aai_mcp.archive.sync import LeaseLost, SyncBusy
    from aai_mcp.upstream.errors import UpstreamError

    name = "sync" if number == 0 else f"sync round {number}"
    try:
        counts = await sync.run()
    except SyncBusy as busy:
        print(f"aai-mcp archive: {name}: {busy}", file=sys.stderr, flush=True)
        return 0
    except (UpstreamError, LeaseLost) as exc:
        return error(f"{name}: {exc}; the next sync goes on from the checkpoint", 1)
    start = ""
    if counts.started_from_now:
        start = "; first sync on an empty archive: started from now (archive backfill copies the past)"
    print(
        f"aai-mcp archive: {name}: {counts.new} new, {counts.completed} newly completed, "
        f"{counts.pending} still pending, {counts.already} already archived, {counts.failed} failed, "
        f"{counts.gone} gone, {counts.expired} flagged past retention, "
        f"{counts.duplicates} duplicates by audio hash{start}",
        file=sys.stderr,
        flush=True,
    )
    return 0


def upstream_of(settings: Settings) -> Upstream:
    from aai_mcp.gateway import simulator_transport
    from aai_mcp.upstream.client import Upstream

    return Upstream(settings, transport=simulator_transport(settings) if settings.simulated else None)


def error(message: str, code: int) -> int:
    print(f"\naai-mcp archive: {message}", file=sys.stderr, flush=True)
    return code
