"""Archive backfill throughput and store size: `aai-mcp archive backfill` (a real process) against
`aai-mcp simulate --history N --history-days 120` (90-day retention), into SQLite and PostgreSQL.

    python -m bench.archive_backfill [--history 2000] [--engines sqlite,postgresql] [--sentences]

Figures: transcripts archived per second (rows / the backfill process's wall time, start-up included)
and the store's size per hour of archived audio (SQLite: the database file with its WAL; PostgreSQL:
archived_transcripts with its indexes and TOAST, full-text GIN index included).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr

from bench import common
from tests.support.postgres import start_postgres, stop_postgres
from tests.support.servers import simulator_env, standalone_simulator
from tests.support.stores import StoreConfig

MIB = 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--history", type=int, default=2000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--sentences", action="store_true", help="also fetch and store sentences")
    args = parser.parse_args(argv)
    common.header(f"Archive backfill: {args.history} transcripts over 120 days (90-day retention)")
    rows = []
    history = ("--history", str(args.history), "--history-days", "120", "--history-seed", "13")
    with standalone_simulator(*history, "--log-level", "WARNING") as simulator:
        for engine in args.engines.split(","):
            rows.append(measure(engine, simulator.base_url, args.sentences))
    headers = ("engine", "archived", "seconds", "transcripts/s", "audio hours", "store MiB", "MiB/audio hour")
    print(common.table(headers, rows))
    return 0


def measure(engine: str, simulator_url: str, sentences: bool) -> tuple[object, ...]:
    with tempfile.TemporaryDirectory(prefix="aai-bench-archive-") as tmp:
        server = start_postgres() if engine == "postgresql" else None
        try:
            url = SecretStr(server.new_database()) if server is not None else None
            store = StoreConfig(Path(tmp) / "data", url)
            store.open(auto_upgrade=True).close()
            seconds = backfill(store, simulator_url, sentences)
            archived, audio_hours, size = archive_figures(store)
        finally:
            if server is not None:
                stop_postgres(server)
    size_mib = size / MIB
    return (engine, archived, f"{seconds:.1f}", f"{archived / seconds:.0f}", f"{audio_hours:.1f}",
            f"{size_mib:.1f}", f"{size_mib / audio_hours:.2f}" if audio_hours else "-")  # fmt: skip


def backfill(store: StoreConfig, simulator_url: str, sentences: bool) -> float:
    command = [sys.executable, "-m", "aai_mcp", "archive", "backfill", "--api-base-url", simulator_url]
    command += ["--max-per-second", "1000", "--concurrency", "8"] + (["--sentences"] if sentences else [])
    started = time.perf_counter()
    done = subprocess.run(command, env=simulator_env(**store.env()), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"backfill failed ({done.returncode}):\n{done.stderr[-2000:]}")
    print(done.stderr.strip().splitlines()[-1], file=sys.stderr)
    return seconds


def archive_figures(store: StoreConfig) -> tuple[int, float, int]:
    """Rows archived, their audio in hours, the store's bytes."""
    opened = store.open()
    try:
        with opened.engine.connect() as connection:
            count, seconds = connection.execute(
                sa.text("SELECT count(*), coalesce(sum(audio_duration), 0) FROM archived_transcripts")
            ).one()
            if store.database_url is None:
                size = sum(p.stat().st_size for p in store.data_dir.glob("aai-mcp.db*"))
            else:
                total = "SELECT pg_total_relation_size('archived_transcripts')"
                size = int(connection.execute(sa.text(total)).scalar_one())
    finally:
        opened.close()
    return int(count), float(seconds) / 3600, size


if __name__ == "__main__":
    raise SystemExit(main())
