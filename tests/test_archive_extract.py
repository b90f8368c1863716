"""`aai-mcp archive extract --kit K` over an archive, on SQLite and PostgreSQL: every completed
transcript gets a result, shown with progress; a second run skips the current ones; a run stopped by
upstream resumes where it stopped; 429s are waited out for their Retry-After; an answer that breaks the
kit is refused (listed) and the run goes on."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from aai_mcp.archive.extract_progress import ExtractDisplay
from aai_mcp.archive.extract_run import ExtractCounts
from aai_mcp.cli.main import main
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.state.extraction_store import ExtractionStore
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.upstream.errors import UpstreamError
from tests.support.archive_runs import FakeTime
from tests.support.extraction_runs import GatewayFront, extract_archive, seeded_archive
from tests.support.stores import StoreConfig

COUNT = 12


def spoiled(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "resolution": {"value": "maybe", "evidence": [], "confidence": 0.5}}


def test_the_cli_extracts_every_archived_transcript_with_progress_then_skips_them(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_config.open(auto_upgrade=True)
    seeded_archive(ArchiveStore(store.engine), COUNT)
    held = len(ExtractionStore(store.engine).archived_completed_ids())
    assert held >= COUNT // 2
    for name, value in store_config.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ASSEMBLYAI_API_KEY", raising=False)
    assert main(["archive", "extract", "--kit", "support-call-qa"]) == 0
    first = capsys.readouterr().err
    assert f"aai-mcp archive: extract: {held}/{held} · {held} extracted" in first
    assert f"extract done: {held} extracted, 0 already current, 0 refused; quotes " in first
    assert "0 not found in their transcript" in first
    assert main(["archive", "extract", "--kit", "support-call-qa"]) == 0
    assert f"extract done: 0 extracted, {held} already current" in capsys.readouterr().err
    try:
        assert ExtractionStore(store.engine).count("support-call-qa") == held
    finally:
        store.close()
    if store_config.database_url is not None:
        assert store_config.password() not in first


def test_an_unknown_kit_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AAI_MCP_DATA_DIR", str(tmp_path))
    assert main(["archive", "extract", "--kit", "nope"]) == 2
    assert "no extraction kit 'nope'; there are: sales-call, support-call-qa" in capsys.readouterr().err


@pytest.mark.anyio
async def test_a_run_stopped_by_upstream_resumes_where_it_stopped(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    seeded = seeded_archive(archive, COUNT)
    total = len(ExtractionStore(store.engine).archived_completed_ids())
    front = GatewayFront(httpx.ASGITransport(app=seeded.app), fail_from=4)
    with pytest.raises(UpstreamError):
        await extract_archive(seeded, archive, "sales-call", front)
    assert ExtractionStore(store.engine).count("sales-call") == 3
    counts, _ = await extract_archive(seeded, archive, "sales-call")
    assert (counts.extracted, counts.current, counts.refused) == (total - 3, 3, [])
    assert ExtractionStore(store.engine).count("sales-call") == total


@pytest.mark.anyio
async def test_a_429_is_waited_out_for_its_retry_after(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    seeded = seeded_archive(archive, COUNT)
    time = FakeTime()
    front = GatewayFront(httpx.ASGITransport(app=seeded.app), overrides={2: 429, 3: 429})
    counts, _ = await extract_archive(seeded, archive, "sales-call", front, time)
    assert counts.waits == [3.0, 3.0]
    assert counts.extracted == counts.total and front.chats == counts.total + 2
    assert sum(time.slept) >= 6.0


@pytest.mark.anyio
async def test_an_answer_that_breaks_the_kit_is_refused_and_the_run_goes_on(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    seeded = seeded_archive(archive, COUNT)
    front = GatewayFront(httpx.ASGITransport(app=seeded.app), overrides={2: spoiled})
    counts, _ = await extract_archive(seeded, archive, "support-call-qa", front)
    [refusal] = counts.refused
    assert "resolution.value: 'maybe' is not one of" in refusal
    assert counts.extracted == counts.total - 1
    again, _ = await extract_archive(seeded, archive, "support-call-qa")
    assert (again.extracted, again.current) == (1, counts.total - 1)


def test_the_display_draws_a_bar_on_a_terminal_and_about_twenty_lines_otherwise() -> None:
    terminal, plain = io.StringIO(), io.StringIO()
    on_terminal, in_a_log = ExtractDisplay(terminal, True), ExtractDisplay(plain, False)
    counts = ExtractCounts(total=100)
    for done in range(100):
        counts.extracted = done + 1
        on_terminal(counts)
        in_a_log(counts)
    on_terminal.finish(counts)
    drawn = terminal.getvalue()
    assert drawn.startswith("\r[") and "\x1b[K" in drawn
    assert "[########################] 100% 100/100 · 100 extracted" in drawn
    assert drawn.rstrip().endswith("0 rate-limit waits (0 s)")
    lines = plain.getvalue().splitlines()
    assert 19 <= len(lines) <= 21 and lines[-1].startswith("aai-mcp archive: extract: 100/100")
    assert "\r" not in plain.getvalue()


def test_ctrl_c_stops_with_130_and_the_same_command_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = StoreConfig(tmp_path / "data", None).open(auto_upgrade=True)
    seeded_archive(ArchiveStore(store.engine), COUNT)
    held = len(ExtractionStore(store.engine).archived_completed_ids())
    monkeypatch.setenv("AAI_MCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ASSEMBLYAI_API_KEY", raising=False)
    draw = ExtractDisplay.__call__

    def interrupted_after_three(self: ExtractDisplay, counts: ExtractCounts) -> None:
        # A real Ctrl-C: SIGINT to this process, handled by the event loop's runner (it cancels the
        # run). Raising KeyboardInterrupt inside the loop instead tore it down with an AnyIO worker
        # thread never told to stop, which kept the test process from exiting.
        if counts.done == 3:
            os.kill(os.getpid(), signal.SIGINT)
        draw(self, counts)

    monkeypatch.setattr(ExtractDisplay, "__call__", interrupted_after_three)
    command = ["archive", "extract", "--kit", "sales-call", "--concurrency", "1"]
    assert main(command) == 130
    assert "interrupted; run the same command again to resume" in capsys.readouterr().err
    monkeypatch.setattr(ExtractDisplay, "__call__", draw)
    assert main(command) == 0
    assert f"extract done: {held - 3} extracted, 3 already current" in capsys.readouterr().err
    try:
        assert ExtractionStore(store.engine).count("sales-call") == held
    finally:
        store.close()
