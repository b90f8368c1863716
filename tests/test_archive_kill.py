"""The proof of resume with real processes (issue 13 part 8): `aai-mcp archive backfill` against
`aai-mcp simulate` seeded with 2 000 transcripts over 120 days (90-day retention), killed with SIGKILL
in the middle and run again, ends with exactly the rows of an uninterrupted run, and exactly the
transcripts the simulator still lists (all available, none expired). Ctrl-C is proved on 300 with
sentences fetched too."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from aai_mcp.state.store_schema import archived_transcripts
from tests.support.servers import SIM_KEY, ServerProcess, simulator_env, standalone_simulator, wait_until
from tests.support.stores import StoreConfig

pytestmark = pytest.mark.slow
KILL_AFTER = 80
PROOF_KILL_AFTER = 500
RUN_DEADLINE = 600.0  # generous: a loaded 2-core machine


@pytest.fixture(scope="module")
def history_simulator() -> Iterator[ServerProcess]:
    # Latency keeps the run long enough to be stopped in the middle, whatever the machine's speed.
    args = ("--history", "300", "--history-days", "120", "--history-seed", "5", "--latency-ms", "25")
    with standalone_simulator(*args) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def proof_simulator() -> Iterator[ServerProcess]:
    # No latency: ~1 400 available transcripts take long enough to be killed at 500.
    args = ("--history", "2000", "--history-days", "120", "--history-seed", "5", "--log-level", "WARNING")
    with standalone_simulator(*args) as simulator:
        yield simulator


def _stores(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[StoreConfig, StoreConfig]:
    if engine == "sqlite":
        return StoreConfig(tmp_path / "whole", None), StoreConfig(tmp_path / "killed", None)
    server = request.getfixturevalue("postgres_server")
    configs = tuple(StoreConfig(tmp_path / name, SecretStr(server.new_database())) for name in ("w", "k"))
    for config in configs:
        config.open(auto_upgrade=True).close()  # PostgreSQL is upgraded deliberately (aai-mcp db upgrade)
    return configs[0], configs[1]


def _backfill(
    simulator: ServerProcess, store: StoreConfig, log: Path, *views: str
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "aai_mcp", "archive", "backfill", "--api-base-url", simulator.base_url]
    command += ["--page-size", "100", "--concurrency", "4", "--max-per-second", "1000", *views]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=simulator_env(**store.env()), stdout=out, stderr=out)


def _rows(store: StoreConfig) -> list[dict[str, Any]]:
    """Every archived row without its store-local fields (row number, when it was written)."""
    local = {"seq", "first_seen_at", "last_synced_at"}
    columns = [c for c in archived_transcripts.c if c.name not in local]
    opened = store.open()
    try:
        with opened.engine.connect() as connection:
            query = sa.select(*columns).order_by(archived_transcripts.c.transcript_id)
            return [row._asdict() for row in connection.execute(query)]
    finally:
        opened.close()


def _count(store: StoreConfig) -> int:
    opened = store.open()
    try:
        with opened.engine.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(archived_transcripts)).scalar_one()
            )
    finally:
        opened.close()


def _listed(simulator: ServerProcess) -> set[str]:
    """What the simulator lists as completed now, walking the pages."""
    found: set[str] = set()
    params: dict[str, str] = {"limit": "200", "status": "completed"}
    while True:
        body = httpx.get(
            f"{simulator.base_url}/v2/transcript",
            params=params,
            headers={"Authorization": SIM_KEY},
            timeout=30,
        ).json()
        found |= {t["id"] for t in body["transcripts"]}
        if body["page_details"]["prev_url"] is None:
            return found
        params = {k: v[0] for k, v in parse_qs(urlsplit(body["page_details"]["prev_url"]).query).items()}


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_kill_9_in_the_middle_then_resume_gives_the_rows_of_an_uninterrupted_run(
    engine: str, proof_simulator: ServerProcess, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    whole, killed = _stores(engine, tmp_path, request)
    log = tmp_path / "backfill.log"
    uninterrupted = _backfill(proof_simulator, whole, log)
    assert uninterrupted.wait(RUN_DEADLINE) == 0, log.read_text()

    victim = _backfill(proof_simulator, killed, log)
    try:
        wait_until(
            lambda: victim.poll() is not None or _count(killed) >= PROOF_KILL_AFTER,
            RUN_DEADLINE,
            f"{PROOF_KILL_AFTER} stored",
        )
        assert victim.poll() is None, f"the run ended before it could be killed:\n{log.read_text()}"
        victim.send_signal(signal.SIGKILL)
    finally:
        victim.kill()
        victim.wait(30)
    assert victim.returncode == -signal.SIGKILL
    stored_at_kill = _count(killed)
    expected = _listed(proof_simulator)
    assert PROOF_KILL_AFTER <= stored_at_kill < len(expected)

    resumed = _backfill(proof_simulator, killed, log)
    assert resumed.wait(RUN_DEADLINE) == 0, log.read_text()
    assert "resuming after page" in log.read_text()
    rows = _rows(killed)
    assert rows == _rows(whole)
    assert {row["transcript_id"] for row in rows} == expected and len(rows) == len(expected)
    shown = log.read_text()
    assert SIM_KEY not in shown and (killed.database_url is None or killed.password() not in shown)


def test_ctrl_c_stops_with_130_and_the_same_command_resumes(
    history_simulator: ServerProcess, tmp_path: Path
) -> None:
    store, log = StoreConfig(tmp_path / "data", None), tmp_path / "backfill.log"
    run = _backfill(history_simulator, store, log, "--sentences")
    try:
        wait_until(lambda: run.poll() is not None or _count(store) >= KILL_AFTER, RUN_DEADLINE, "80 stored")
        assert run.poll() is None, f"the run ended before Ctrl-C:\n{log.read_text()}"
        run.send_signal(signal.SIGINT)
        assert run.wait(60) == 130
    finally:
        run.kill()
        run.wait(30)
    assert "interrupted; run the same command again to resume" in log.read_text()
    assert _backfill(history_simulator, store, log, "--sentences").wait(RUN_DEADLINE) == 0, log.read_text()
    assert {row["transcript_id"] for row in _rows(store)} == _listed(history_simulator)
