"""`aai-mcp archive export` on SQLite and PostgreSQL: each format round-trips (JSONL parsed, CSV read
with the csv module, Parquet read back with pyarrow), rows per transcript and per utterance, batched
(a Parquet row group per batch), one account's rows, and clear refusals (no fields rows, no pyarrow)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from aai_mcp.archive import export_rows
from aai_mcp.cli.main import main
from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
from tests.support.stores import StoreConfig

LINES = ("Hello, thanks for calling.", "My parcel never arrived.", "Let me check, one moment.")


def _seed(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch, count: int = 7
) -> list[ArchivedTranscript]:
    for name, value in store_config.env().items():
        monkeypatch.setenv(name, value)
    kept = []
    store = store_config.open(auto_upgrade=True)
    try:
        archive = ArchiveStore(store.engine)
        for n in range(count):
            utterances: list[dict[str, Any]] = [
                {"speaker": "AB"[i % 2], "start": i * 1000, "end": i * 1000 + 900, "text": line,
                 "confidence": 0.5 + i / 10, "words": [{"text": "x"}]}
                for i, line in enumerate(LINES[: 1 + n % 3])
            ]  # fmt: skip
            transcript = ArchivedTranscript(
                f"t-{n:02d}", "completed", {}, created_at=1_700_000_000 + n, audio_duration=30 + n,
                text=" ".join(LINES[: 1 + n % 3]), utterances=utterances,
                account="team-b" if n % 4 == 3 else "default",
            )  # fmt: skip
            archive.upsert(transcript)
            kept.append(transcript)
    finally:
        store.close()
    return kept


def _export(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "export.out"
    assert main(["archive", "export", *args, "--out", str(out)]) == 0
    assert not list(tmp_path.glob("*.partial"))
    return out


def _expected_utterances(kept: list[ArchivedTranscript]) -> list[dict[str, Any]]:
    return [
        {"transcript_id": t.transcript_id, "account": t.account, "index": i, "speaker": u["speaker"],
         "start_ms": u["start"], "end_ms": u["end"], "confidence": u["confidence"], "text": u["text"]}
        for t in kept for i, u in enumerate(t.utterances or [])
    ]  # fmt: skip


def test_jsonl_transcripts_round_trip(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kept = _seed(store_config, monkeypatch)
    rows = [json.loads(line) for line in _export(tmp_path, "--format", "jsonl").read_text().splitlines()]
    assert [r["transcript_id"] for r in rows] == [t.transcript_id for t in kept]
    first = rows[2]
    assert first["text"] == kept[2].text and first["utterances"] == 3 and first["speakers"] == 2
    assert first["created_at"] == "2023-11-14T22:13:22Z" and first["audio_duration"] == 32
    assert first["upstream_deleted"] is False and "words" not in first


def test_csv_utterances_round_trip(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kept = _seed(store_config, monkeypatch)
    with _export(tmp_path, "--format", "csv", "--rows", "utterances").open(newline="") as file:
        rows = list(csv.DictReader(file))
    expected = [{k: str(v) for k, v in row.items()} for row in _expected_utterances(kept)]
    assert rows == expected


def test_parquet_is_written_a_row_group_per_batch_and_reads_back(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kept = _seed(store_config, monkeypatch)
    monkeypatch.setattr(export_rows, "BATCH_TRANSCRIPTS", 3)
    out = _export(tmp_path, "--format", "parquet", "--rows", "utterances")
    assert pq.ParquetFile(out).num_row_groups == 3  # 7 transcripts read 3 at a time
    assert pq.read_table(out).to_pylist() == _expected_utterances(kept)
    transcripts = pq.read_table(_export(tmp_path, "--format", "parquet")).to_pylist()
    assert [(r["transcript_id"], r["text"]) for r in transcripts] == [(t.transcript_id, t.text) for t in kept]


def test_one_accounts_rows(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kept = _seed(store_config, monkeypatch)
    lines = _export(tmp_path, "--account", "team-b").read_text().splitlines()
    assert [json.loads(line)["transcript_id"] for line in lines] == [
        t.transcript_id for t in kept if t.account == "team-b"
    ]


def test_jsonl_on_standard_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    kept = _seed(StoreConfig(tmp_path / "data", None), monkeypatch)
    assert main(["archive", "export"]) == 0
    captured = capfdbinary.readouterr()
    assert len(captured.out.splitlines()) == len(kept)
    assert b"exported 7 transcripts rows as jsonl" in captured.err


def test_fields_rows_and_a_missing_pyarrow_are_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(StoreConfig(tmp_path / "data", None), monkeypatch, count=1)
    assert main(["archive", "export", "--rows", "fields"]) == 2
    assert "no fields rows" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails as if not installed
    assert main(["archive", "export", "--format", "parquet", "--out", str(tmp_path / "x.parquet")]) == 2
    assert "pip install 'aai-mcp[parquet]'" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()
