"""`aai-mcp archive sync` as real processes against `aai-mcp simulate`: two at once (as cron and a
shell would start them) on SQLite and PostgreSQL: one syncs, the other says another sync is running
and exits 0, and the archive ends with each listed transcript once; `--every` stopped with Ctrl-C
exits 130."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from aai_mcp.archive.sync import LEASE_NAME, SYNC_RUN_KEY
from aai_mcp.state.archive_store import ArchiveStore, Checkpoint
from aai_mcp.state.store_leases import StoreLeases
from aai_mcp.state.store_schema import archived_transcripts
from tests.support.servers import SIM_KEY, ServerProcess, simulator_env, standalone_simulator, wait_until
from tests.support.stores import StoreConfig

pytestmark = pytest.mark.slow
RUN_DEADLINE = 300.0  # generous: a loaded 2-core machine
SPAN = 150  # transcripts newer than the checkpoint


@pytest.fixture(scope="module")
def history_simulator() -> Iterator[ServerProcess]:
    # Latency keeps a sync long enough for a second one to start while it runs.
    args = ("--history", "200", "--history-days", "60", "--history-seed", "3", "--latency-ms", "40")
    with standalone_simulator(*args) as simulator:
        yield simulator


def _newest(simulator: ServerProcess) -> list[dict[str, str]]:
    answer = httpx.get(
        f"{simulator.base_url}/v2/transcript",
        params={"limit": str(SPAN + 1)},
        headers={"Authorization": SIM_KEY},
        timeout=30,
    )
    items: list[dict[str, str]] = answer.json()["transcripts"]
    return items


def _store(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreConfig:
    if engine == "sqlite":
        return StoreConfig(tmp_path / "data", None)
    server = request.getfixturevalue("postgres_server")
    return StoreConfig(tmp_path / "data", SecretStr(server.new_database()))


def _start_from(store: StoreConfig, cursor_id: str) -> None:
    """A checkpoint as an earlier sync leaves it: the next sync pages upward from `cursor_id`."""
    opened = store.open(auto_upgrade=True)
    try:
        ArchiveStore(opened.engine).save_checkpoint(Checkpoint(SYNC_RUN_KEY, {"sync": True}, cursor_id))
    finally:
        opened.close()


def _ids(store: StoreConfig) -> list[str]:
    opened = store.open()
    try:
        with opened.engine.connect() as connection:
            return list(connection.execute(sa.select(archived_transcripts.c.transcript_id)).scalars())
    finally:
        opened.close()


def _sync(simulator: ServerProcess, store: StoreConfig, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "aai_mcp", "archive", "sync", "--api-base-url", simulator.base_url]
    command += ["--page-size", "5", "--concurrency", "1", "--max-per-second", "1000", *extra]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=simulator_env(**store.env()), stdout=out, stderr=out)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_two_syncs_at_once_one_runs_the_other_says_so_and_exits_0(
    engine: str, history_simulator: ServerProcess, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = _store(engine, tmp_path, request)
    newest = _newest(history_simulator)
    _start_from(store, newest[-1]["id"])
    expected = {t["id"] for t in newest[:-1] if t["status"] == "completed"}
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _sync(history_simulator, store, first_log)
    try:
        wait_until(lambda: first.poll() is not None or _ids(store), RUN_DEADLINE, "the first sync storing")
        assert first.poll() is None, f"the first sync ended too soon:\n{first_log.read_text()}"
        second = _sync(history_simulator, store, second_log)
        assert second.wait(RUN_DEADLINE) == 0, second_log.read_text()
        # Only possible while the first held the lease: the proof they overlapped.
        assert "another sync is running" in second_log.read_text()
        assert first.wait(RUN_DEADLINE) == 0, first_log.read_text()
    finally:
        first.kill()
        first.wait(30)
    assert f"sync: {len(expected)} new" in first_log.read_text()
    ids = _ids(store)
    assert set(ids) == expected and len(ids) == len(expected)
    shown = first_log.read_text() + second_log.read_text()
    assert SIM_KEY not in shown and (store.database_url is None or store.password() not in shown)


def test_every_stops_with_130_on_ctrl_c(history_simulator: ServerProcess, tmp_path: Path) -> None:
    store, log = StoreConfig(tmp_path / "data", None), tmp_path / "sync.log"
    run = _sync(history_simulator, store, log, "--every", "1h")
    try:
        wait_until(lambda: _said(run, log, "sync round 1:"), RUN_DEADLINE, "round 1")
        assert run.poll() is None, f"--every ended by itself:\n{log.read_text()}"
        run.send_signal(signal.SIGINT)
        assert run.wait(60) == 130
    finally:
        run.kill()
        run.wait(30)
    shown = log.read_text()
    assert "started from now" in shown and "interrupted" in shown
    opened = store.open()
    try:  # no lease left behind: a cron sync right after runs
        assert StoreLeases(opened.engine).holder(LEASE_NAME) is None
    finally:
        opened.close()


def _said(run: subprocess.Popen[bytes], log: Path, text: str) -> bool:
    return run.poll() is not None or text in log.read_text()
