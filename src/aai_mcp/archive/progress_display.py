"""How a backfill shows its progress: a bar redrawn in place on a terminal (counts, rate, ETA), one
plain line per page otherwise (a log, a pipe, CI). No dependency: one line of text is all it takes.

The list has no total, so the bar measures time covered: from the newest transcript seen down to the
oldest one the run can reach (--since, else AssemblyAI's 90-day retention).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TextIO

from aai_mcp.archive.backfill import Progress

RETENTION = timedelta(days=90)
BAR_WIDTH = 24
REDRAW_SECONDS = 0.1


@dataclass
class ProgressDisplay:
    out: TextIO
    terminal: bool
    since: date | None = None
    started: float = field(default_factory=time.monotonic)
    _started_archived: int | None = None
    _drawn_at: float = 0.0

    def __call__(self, progress: Progress, page_done: bool) -> None:
        if self._started_archived is None:
            self._started_archived = progress.archived - (0 if page_done else 1)
        if self.terminal:
            now = time.monotonic()
            if page_done or now - self._drawn_at >= REDRAW_SECONDS:
                self._drawn_at = now
                self.out.write("\r" + self.line(progress) + "\x1b[K")
                self.out.flush()
        elif page_done:
            print(f"aai-mcp archive: page {progress.pages}: {self.line(progress)}", file=self.out, flush=True)

    def line(self, progress: Progress) -> str:
        share = covered(progress, self.since)
        rate = self.rate(progress)
        parts = [
            f"{progress.archived} archived",
            f"{progress.already} already held",
            f"{progress.skipped} skipped",
            f"{rate:.1f}/s",
        ]
        if progress.oldest_seen is not None:
            parts.append(f"back to {progress.oldest_seen.date().isoformat()}")
        if share is not None:
            eta = eta_seconds(share, time.monotonic() - self.started)
            parts.append(f"ETA {format_seconds(eta)}" if eta is not None else "ETA ?")
            if self.terminal:
                filled = round(share * BAR_WIDTH)
                return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} " + " · ".join(parts)
        return " · ".join(parts)

    def rate(self, progress: Progress) -> float:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return (progress.archived - (self._started_archived or 0)) / elapsed

    def finish(self, progress: Progress) -> None:
        if self.terminal:
            self.out.write("\n")
        waited = sum(progress.waits)
        print(
            f"aai-mcp archive: done: {progress.archived} archived, {progress.already} already held, "
            f"{progress.skipped} skipped, {progress.gone} gone upstream, {progress.pages} pages, "
            f"{self.rate(progress):.1f} transcripts/s, "
            f"{len(progress.waits)} rate-limit waits ({waited:.0f} s), "
            f"{progress.duplicates} duplicates by audio hash (archive duplicates lists them)",
            file=self.out,
            flush=True,
        )


def covered(progress: Progress, since: date | None) -> float | None:
    """The share of the reachable time span the run has gone through (None before the first item)."""
    newest, oldest = progress.newest_seen, progress.oldest_seen
    if newest is None or oldest is None:
        return None
    floor = datetime.combine(since, datetime.min.time(), newest.tzinfo) if since else newest - RETENTION
    span = (newest - floor).total_seconds()
    return 1.0 if span <= 0 else min(1.0, max(0.0, (newest - oldest).total_seconds() / span))


def eta_seconds(share: float, elapsed: float) -> float | None:
    return None if share <= 0 else elapsed * (1 - share) / share


def format_seconds(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
