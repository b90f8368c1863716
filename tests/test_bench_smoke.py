"""Every benchmark in bench/ runs with tiny parameters and prints its table, so none of them rots."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bench.profile_calls import summarize

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 600
HAVE_PY_SPY = shutil.which("py-spy") is not None or Path(sys.executable).with_name("py-spy").exists()


def run_bench(module: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "nproc" in done.stdout
    return done.stdout


def test_call_overhead() -> None:
    out = run_bench(
        "call_overhead", "--calls", "4", "--clients", "2", "--rounds", "1", "--modes", "stateful+SSE"
    )
    for label in ("direct GET (floor)", "trivial tool (ceiling)", "bare SDK tool + same GET", "aai-mcp"):
        assert label in out
    assert "calls/s vs ceiling" in out


def test_call_peers() -> None:
    # FastMCP runs from .cache/fastmcp-venv, made on first use like catalog_size's.
    out = run_bench("call_peers", "--calls", "4", "--clients", "2", "--rounds", "1", "--eras", "2026-07-28")
    for label in ("aai-mcp", "bare SDK + same GET", "FastMCP from_openapi", "server CPU ms/call"):
        assert label in out
    assert "does not validate" in out


def test_upload(tmp_path: Path) -> None:
    out = run_bench("upload", "--size-mib", "2", "--rounds", "1", "--dir", str(tmp_path))
    assert "aai-mcp upload_file(path)" in out
    assert "throughput >= 90% of curl" in out


def test_archive_backfill() -> None:
    out = run_bench("archive_backfill", "--history", "30", "--engines", "sqlite")
    assert "| sqlite " in out and "MiB/audio hour" in out


def test_upload_link(tmp_path: Path) -> None:
    out = run_bench("upload_link", "--size-mib", "2", "--rounds", "1", "--dir", str(tmp_path))
    assert "curl -T -> aai-mcp link -> simulator" in out
    assert "peak RSS grows < 20 MB" in out


def test_catalog_size_of_ours() -> None:
    out = run_bench("catalog_size", "--no-reference")
    assert "**all tools**" in out and "create_transcript" in out


def test_catalog_size_against_fastmcp() -> None:
    # The first run makes .cache/fastmcp-venv (pip install fastmcp==4.1.0), so it can take a minute.
    assert "all 13 paired operations" in run_bench("catalog_size")


def test_waiting() -> None:
    out = run_bench("waiting", "--waits", "4", "--delay", "0.5", "--clients", "2")
    assert "4 waits on 4 transcripts" in out and "4 waits on 1 transcript" in out


def test_webhook_wait() -> None:
    out = run_bench("webhook_wait", "--waits", "2", "--delay", "0.5")
    assert "polling only" in out and "webhook (polling as safety net)" in out


def test_cold_start() -> None:
    out = run_bench("cold_start", "--runs", "1")
    assert "aai-mcp serve" in out and "bare SDK server" in out


def test_profile_calls() -> None:
    assert HAVE_PY_SPY, "py-spy is missing: pip install -e '.[test]' installs it"
    out = run_bench("profile_calls", "--seconds", "2", "--rate", "100")
    assert "samples (GIL held)" in out or "no samples" in out


def test_profile_summary_counts_own_and_inclusive_samples() -> None:
    raw = "main (app.py:1);work (app.py:5);decode (json/decoder.py:9) 3\nmain (app.py:1);work (app.py:5) 1\n"
    summary = summarize(raw, 5)
    assert "4 samples" in summary
    assert "| 75.0% | `decode (json/decoder.py)` |" in summary
    assert "| 100.0% | `work (app.py)` |" in summary


def test_export() -> None:
    out = run_bench("export", "--transcripts", "20", "--utterances", "2")
    assert "| 20          | parquet | utterances  | 40 " in out


def test_workers() -> None:
    out = run_bench("workers", "--calls", "8", "--clients", "2", "--rounds", "1")
    assert "| 1 process " in out and "| 2 workers " in out
    assert "calls per process" in out and "the load generator on the same cores" in out
