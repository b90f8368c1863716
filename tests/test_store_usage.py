"""Usage and open transcription jobs in the store, on SQLite and PostgreSQL: a transcript is counted
once whichever instance records it, totals per team over a period, jobs open until finished."""

from __future__ import annotations

import time

from aai_mcp.state.store import UsageTotals
from aai_mcp.state.store_sql import SqlStore
from tests.support.stores import StoreConfig


def test_a_transcript_is_counted_once_whoever_records_it(store: SqlStore, store_config: StoreConfig) -> None:
    assert store.record_usage("ci", "audio", 90.0, resource_id="tr_1")
    other_instance = store_config.open()
    try:
        assert not other_instance.record_usage("ci", "audio", 90.0, resource_id="tr_1")
    finally:
        other_instance.close()
    assert store.usage_totals(0) == [UsageTotals("ci", audio_seconds=90.0, transcripts=1)]


def test_totals_per_team_and_kind(store: SqlStore) -> None:
    store.record_usage("ci", "audio", 30.5, resource_id="tr_a")
    store.record_usage("ci", "audio", 60.0, resource_id="tr_b")
    store.record_usage("ci", "llm", 150, prompt_tokens=100, completion_tokens=50)
    store.record_usage("ci", "llm", 10, prompt_tokens=7, completion_tokens=3)
    store.record_usage("research", "stream", 12.25)
    assert store.usage_totals(0) == [
        UsageTotals("ci", 90.5, 2, 160, 107, 53, 0.0, 0),
        UsageTotals("research", stream_seconds=12.25, streams=1),
    ]
    assert store.usage_totals(0, "research") == [UsageTotals("research", stream_seconds=12.25, streams=1)]
    assert store.usage_totals(0, "nobody") == []
    assert store.usage_totals(time.time() + 60) == []  # nothing recorded after a time to come


def test_jobs_are_open_until_finished(store: SqlStore) -> None:
    start = time.time() - 1
    store.open_job("tr_1", "ci")
    store.open_job("tr_2", "ci")
    store.open_job("tr_2", "ci")  # the same answer seen twice
    store.open_job("tr_3", "research")
    assert store.open_jobs("ci", start) == 2
    store.finish_jobs(["tr_1", "tr_unknown"])
    assert store.open_jobs("ci", start) == 1
    assert store.open_jobs("research", start) == 1
    assert store.open_jobs("ci", time.time() + 60) == 0  # older than the bound: not counted


def test_a_transcripts_audio_goes_to_the_team_that_created_it(store: SqlStore) -> None:
    store.open_job("tr_made_by_ci", "ci")
    assert store.record_transcript("tr_made_by_ci", "research", 30.0) == "ci"
    assert store.record_transcript("tr_made_by_ci", "ci", 30.0) is None  # counted before
    assert store.record_transcript("tr_seen_only", "research", 5.0) == "research"
    assert store.usage_totals(0) == [UsageTotals("ci", 30.0, 1), UsageTotals("research", 5.0, 1)]
