"""`aai-mcp archive export` over a large seeded archive: rows/s and the export process's peak RSS for
each format and row kind, at two archive sizes. Constant memory shows as the same peak RSS for the
small and the large archive (rows are read and written a batch at a time).

    python -m bench.export [--transcripts 20000] [--utterances 20]

The archive is a SQLite store in a temporary directory (seeded with bulk inserts, not through the
capture paths: this measures the export); each export runs as its own `aai-mcp` process, its peak
RSS read from the kernel's accounting of that child (wait4)."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from aai_mcp.state.store_schema import archived_transcripts
from aai_mcp.state.store_sql import open_store
from bench.common import PYTHON, header, proc_status_kib, table
from tests.support.servers import clean_env

WORDS = "thanks for calling about the invoice the parcel never arrived let me check that for you".split()
FORMATS = ("jsonl", "csv", "parquet")
ROWS = ("transcripts", "utterances")
BATCH = 500


def _transcript(n: int, utterances: int) -> dict[str, Any]:
    turns: list[dict[str, Any]] = [
        {"speaker": "AB"[i % 2], "start": i * 4000, "end": i * 4000 + 3500, "confidence": 0.9,
         "text": " ".join(WORDS[(n + i + k) % len(WORDS)] for k in range(14)).capitalize() + "."}
        for i in range(utterances)
    ]  # fmt: skip
    now = time.time()
    return {
        "transcript_id": f"bench-{n:07d}", "status": "completed", "created_at": 1_700_000_000 + n,
        "completed_at": 1_700_000_060 + n, "audio_duration": utterances * 4, "language_code": "en",
        "speech_model": "universal", "text": " ".join(t["text"] for t in turns), "utterances": turns,
        "request_config": {"speaker_labels": True}, "first_seen_at": now, "last_synced_at": now,
        "account": "default",
    }  # fmt: skip


def seed(data_dir: Path, count: int, utterances: int) -> None:
    store = open_store(data_dir, None, {})
    try:
        for start in range(0, count, BATCH):
            rows = [_transcript(n, utterances) for n in range(start, min(count, start + BATCH))]
            with store.engine.begin() as connection:
                connection.execute(archived_transcripts.insert(), rows)
    finally:
        store.close()


def export(data_dir: Path, fmt: str, rows: str, out: Path) -> tuple[int, float, int]:
    """(rows written, seconds the export itself took, peak RSS in MiB) of one `aai-mcp archive
    export` process. The peak is the kernel's high-water mark (VmHWM) read until the process ends; not
    wait4's ru_maxrss, which would count the pages of this process it was forked from."""
    command = [
        PYTHON,
        "-m",
        "aai_mcp",
        "archive",
        "export",
        "--format",
        fmt,
        "--rows",
        rows,
        "--out",
        str(out),
    ]
    env = clean_env(AAI_MCP_DATA_DIR=str(data_dir))
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        peak = 0
        while process.poll() is None:
            try:
                peak = max(peak, proc_status_kib(process.pid, "VmHWM"))
            except (OSError, KeyError):
                pass  # exiting
            time.sleep(0.02)
        errors.seek(0)
        said = errors.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"export {fmt} {rows} failed: {said[-2000:]}")
    count, seconds = said.split("exported ")[1].split()[0], said.split(" in ")[-1].split()[0]
    return int(count), float(seconds), peak // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", type=int, default=20_000, help="transcripts in the large archive")
    parser.add_argument("--utterances", type=int, default=20, help="utterances per transcript")
    args = parser.parse_args()
    header("archive export: rows/s and peak RSS, small and large archive")
    results = []
    with tempfile.TemporaryDirectory(prefix="aai-bench-export-") as tmp:
        for count in (max(1, args.transcripts // 10), args.transcripts):
            data_dir = Path(tmp) / f"archive-{count}"
            seed(data_dir, count, args.utterances)
            for fmt in FORMATS:
                for rows in ROWS:
                    out = Path(tmp) / f"out-{count}.{fmt}"
                    written, seconds, peak = export(data_dir, fmt, rows, out)
                    size = out.stat().st_size / 2**20
                    results.append(
                        (
                            count,
                            fmt,
                            rows,
                            written,
                            f"{written / max(seconds, 0.001):,.0f}",
                            f"{size:.1f}",
                            peak,
                        )
                    )
                    out.unlink()
    print(
        table(
            ["transcripts", "format", "rows", "rows written", "rows/s", "file MiB", "peak RSS MiB"], results
        )
    )


if __name__ == "__main__":
    main()
