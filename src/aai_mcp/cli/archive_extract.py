"""`aai-mcp archive extract --kit K`: run an extraction kit over the archive's completed transcripts,
skipping results still current; stopped anywhere, the same command goes on where it stopped.

Exit codes: 0 done (also when some transcripts were refused: listed), 1 stopped by upstream or the
store (run again to resume), 2 the configuration is wrong (unknown kit or model, a bad kit),
130 interrupted.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from aai_mcp.cli.archive_admin import _in_store, error, upstream_of
from aai_mcp.config.extract_options import ExtractOptions
from aai_mcp.config.settings import Settings

if TYPE_CHECKING:
    from aai_mcp.extraction.kits import ExtractionKit
    from aai_mcp.state.store_sql import SqlStore


def run_extract(options: ExtractOptions, settings: Settings) -> int:
    from aai_mcp.extraction.kits import KitError, available_kits

    try:
        kits = available_kits(settings.extraction_kits_dir)
    except KitError as exc:
        return error(str(exc), 2)
    if options.kit not in kits:
        return error(f"no extraction kit {options.kit!r}; there are: {', '.join(sorted(kits))}", 2)
    model = options.model or settings.llm_default_model
    if model not in settings.llm_models:
        return error(f"model {model!r} is not one this server accepts (llm_models)", 2)
    kit = kits[options.kit]
    return _in_store(settings, lambda store: _extract_into(store, kit, model, options, settings))


def _extract_into(
    store: SqlStore, kit: ExtractionKit, model: str, options: ExtractOptions, settings: Settings
) -> int:
    import anyio

    from aai_mcp.archive.extract_progress import ExtractDisplay
    from aai_mcp.archive.extract_run import ArchiveExtraction
    from aai_mcp.archive.pacing import Pacer
    from aai_mcp.delivery.deliveries import extraction_store_of
    from aai_mcp.state.archive_store import ArchiveStore
    from aai_mcp.upstream.errors import UpstreamError

    display = ExtractDisplay(sys.stderr, sys.stderr.isatty())
    print(f"aai-mcp archive: extract {kit.name} with {model} in {store.shown}", file=sys.stderr, flush=True)

    async def work() -> int:
        async with upstream_of(settings) as upstream:
            run = ArchiveExtraction(
                upstream,
                ArchiveStore(store.engine),
                extraction_store_of(store.engine, settings),
                kit,
                model,
                Pacer(options.max_per_second),
                settings.ask_max_context_chars,
                concurrency=options.concurrency,
                refresh=options.refresh,
                report=display,
            )
            try:
                display.finish(await run.run())
            except UpstreamError as exc:
                counts = run.counts
                return error(f"{exc}; {counts.done} of {counts.total} done, run again to resume", 1)
            return 0

    try:
        return anyio.run(work)
    except KeyboardInterrupt:
        return error("interrupted; run the same command again to resume", 130)
