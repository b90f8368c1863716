"""How `archive extract` shows its progress, the way backfill does (archive/progress_display.py): a bar
redrawn in place on a terminal, plain lines otherwise. Here the total is known: the archive's
completed transcripts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TextIO

from aai_mcp.archive.extract_run import ExtractCounts
from aai_mcp.archive.progress_display import BAR_WIDTH, REDRAW_SECONDS, eta_seconds, format_seconds

PLAIN_LINES = 20  # a log gets about this many lines per run, whatever its size


@dataclass
class ExtractDisplay:
    out: TextIO
    terminal: bool
    started: float = field(default_factory=time.monotonic)
    _drawn_at: float = 0.0
    _printed: int = -1

    def __call__(self, counts: ExtractCounts) -> None:
        if self.terminal:
            now = time.monotonic()
            if counts.done == counts.total or now - self._drawn_at >= REDRAW_SECONDS:
                self._drawn_at = now
                self.out.write("\r" + self.line(counts) + "\x1b[K")
                self.out.flush()
            return
        step = max(1, counts.total // PLAIN_LINES)
        if counts.done // step != self._printed // step or counts.done == counts.total:
            self._printed = counts.done
            print(f"aai-mcp archive: extract: {self.line(counts)}", file=self.out, flush=True)

    def line(self, counts: ExtractCounts) -> str:
        share = counts.done / counts.total if counts.total else 1.0
        elapsed = time.monotonic() - self.started
        eta = eta_seconds(share, elapsed)
        parts = [
            f"{counts.done}/{counts.total}",
            f"{counts.extracted} extracted",
            f"{counts.current} current",
            f"{len(counts.refused)} refused",
            f"{counts.extracted / max(elapsed, 1e-6):.1f}/s",
            f"ETA {format_seconds(eta)}" if eta is not None else "ETA ?",
        ]
        text = " · ".join(parts)
        if not self.terminal:
            return text
        filled = round(share * BAR_WIDTH)
        return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} {text}"

    def finish(self, counts: ExtractCounts) -> None:
        if self.terminal:
            self.out.write("\n")
        for refusal in counts.refused:
            print(f"aai-mcp archive: extract: refused {refusal}", file=self.out, flush=True)
        print(
            f"aai-mcp archive: extract done: {counts.extracted} extracted, {counts.current} already current, "
            f"{len(counts.refused)} refused; quotes {counts.verified_quotes} verified, "
            f"{counts.unverified_quotes} not found in their transcript; "
            f"{len(counts.waits)} rate-limit waits ({sum(counts.waits):.0f} s)",
            file=self.out,
            flush=True,
        )
