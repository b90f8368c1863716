"""`aai-mcp archive backfill`: copy AssemblyAI's transcripts into the store (SQLite under the data
directory, or PostgreSQL at AAI_MCP_DATABASE_URL), resumable.

Exit codes: 0 done, 1 stopped by upstream or the store (run again to resume), 2 the configuration is
wrong, 130 interrupted (Ctrl-C; run again to resume).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from aai_mcp.config.archive_options import BackfillOptions
from aai_mcp.config.settings import Settings

if TYPE_CHECKING:
    from aai_mcp.archive.backfill import BackfillPlan
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
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.state.engines import StoreConfigError
    from aai_mcp.state.store import failure_reason
    from aai_mcp.state.store_migrations import SchemaMismatch
    from aai_mcp.state.store_sql import open_store

    try:
        store = open_store(settings.data_dir, settings.database_url, os.environ)
    except (StoreConfigError, SchemaMismatch) as exc:
        return _error(str(exc), 2)
    except SQLAlchemyError as exc:
        return _error(f"cannot reach the store: {failure_reason(exc)}", 1)
    try:
        return _backfill_into(store, options, settings)
    except SQLAlchemyError as exc:
        return _error(f"the store failed: {failure_reason(exc)}; run again to resume", 1)
    finally:
        store.close()


def _backfill_into(store: SqlStore, options: BackfillOptions, settings: Settings) -> int:
    import anyio

    from aai_mcp.archive.backfill import Backfill
    from aai_mcp.archive.pacing import Pacer
    from aai_mcp.archive.progress_display import ProgressDisplay
    from aai_mcp.state.archive_store import ArchiveStore
    from aai_mcp.upstream.errors import UpstreamError

    plan = plan_of(options)
    display = ProgressDisplay(sys.stderr, sys.stderr.isatty(), plan.since)
    print(f"aai-mcp archive: backfill into {store.shown}", file=sys.stderr, flush=True)

    async def work() -> int:
        async with _upstream(settings) as upstream:
            backfill = Backfill(
                upstream, ArchiveStore(store.engine), plan, Pacer(options.max_per_second), display
            )
            if (resumed := backfill.archive.checkpoint(plan.run_key())) and resumed.finished_at is None:
                print(f"aai-mcp archive: resuming after page {resumed.pages}", file=sys.stderr, flush=True)
            try:
                display.finish(await backfill.run())
            except UpstreamError as exc:
                return _error(f"{exc}; run again to resume from page {backfill.progress.pages}", 1)
            return 0

    try:
        return anyio.run(work)
    except KeyboardInterrupt:
        return _error("interrupted; run the same command again to resume", 130)


def _upstream(settings: Settings) -> Upstream:
    from aai_mcp.gateway import simulator_transport
    from aai_mcp.upstream.client import Upstream

    return Upstream(settings, transport=simulator_transport(settings) if settings.simulated else None)


def _error(message: str, code: int) -> int:
    print(f"\naai-mcp archive: {message}", file=sys.stderr, flush=True)
    return code
