"""scripts/load.py with tiny numbers, so the load and soak script cannot rot unnoticed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import clean_env

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "load.py"
FIGURES = re.compile(r"errors 0 \| throughput \d+ calls/s \| p50 [\d.]+ ms \| p99 [\d.]+ ms")

pytestmark = pytest.mark.slow


def run_script(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=180, env=clean_env()
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_tiny_load_run_in_both_modes_prints_its_figures() -> None:
    out = run_script("--sessions", "2", "--calls", "5")
    assert out.startswith("machine: nproc ")
    assert "mode stateful: 10 calls in 2 sessions" in out and "mode stateless: 10 calls in 2 sessions" in out
    assert len(FIGURES.findall(out)) == 2, out
    assert out.rstrip().endswith("OK")


def test_a_short_soak_samples_rss_and_reports_growth() -> None:
    # Six seconds show the plumbing, not a leak: the growth limit is lifted.
    out = run_script("--sessions", "2", "--calls", "5", "--soak", "0.1", "--max-growth", "1000")
    assert "mode stateful: soak 0.1 min" in out and "stateless" not in out
    assert len(re.findall(r"^\s+[\d.]+ s\s+[\d.]+ MiB", out, re.MULTILINE)) >= 3, out
    assert FIGURES.search(out) and re.search(r"growth [+-][\d.]+ %", out), out
