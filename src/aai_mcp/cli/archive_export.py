"""`aai-mcp archive export`: the archive as rows (per transcript, utterance or extracted field) in
JSONL, CSV or Parquet, on standard output or into a file (written beside it, then moved into place,
so a stopped export never leaves half a file under the name asked for).

Exit codes: 0 done, 1 the store failed, 2 the options cannot be met (a missing library, no such rows).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

from aai_mcp.cli.archive_admin import error
from aai_mcp.cli.store_session import with_store
from aai_mcp.config.delivery_options import ExportOptions
from aai_mcp.config.settings import Settings

if TYPE_CHECKING:
    from aai_mcp.archive.export_rows import RowSource
    from aai_mcp.state.store_sql import SqlStore


def run_export(options: ExportOptions, settings: Settings) -> int:
    from aai_mcp.archive.export_formats import ExportFormatUnavailable, check_format
    from aai_mcp.archive.export_rows import ROW_SOURCES

    source = ROW_SOURCES.get(options.rows)
    if source is None:
        return error(f"this aai-mcp has no {options.rows} rows to export (no extraction results here)", 2)
    try:
        check_format(options.format)
    except ExportFormatUnavailable as exc:
        return error(str(exc), 2)
    code = with_store("archive export", settings, lambda store: _export(store, source, options))
    return 1 if code is None else code


def _export(store: SqlStore, source: RowSource, options: ExportOptions) -> int:
    started = time.monotonic()
    if options.out is None:
        count = export_rows(store, source, options, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        count = _export_to_file(store, source, options, options.out)
    seconds = time.monotonic() - started
    print(
        f"aai-mcp archive: exported {count} {source.name} rows as {options.format} in {seconds:.3f} s",
        file=sys.stderr,
        flush=True,
    )
    return 0


def _export_to_file(store: SqlStore, source: RowSource, options: ExportOptions, out: Path) -> int:
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("wb") as file:
            count = export_rows(store, source, options, file)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return count


def export_rows(store: SqlStore, source: RowSource, options: ExportOptions, out: IO[bytes]) -> int:
    """Write every row of `source` to `out` in the chosen format; how many rows."""
    from aai_mcp.archive.export_formats import WRITERS

    return WRITERS[options.format](source, source.batches(store.engine, options.account), out)
