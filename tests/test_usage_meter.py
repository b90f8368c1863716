"""The one place usage is counted: what each kind of answer adds, streaming sessions (the WebSocket
proxy's hook), team labels from a closed set, jobs that leave the count, and a store that fails
never failing the call."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from aai_mcp.metrics import Metrics
from aai_mcp.state.store import UsageTotals
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.upstream.usage import JOB_BOUND_SECONDS, UsageMeter, metered_call, team_names

pytestmark = pytest.mark.anyio


def meter_on(store: SqlStore | None) -> UsageMeter:
    metrics = Metrics(CollectorRegistry(), [])
    metrics.teams = team_names(["ci=env:CI_KEY"])
    return UsageMeter(metrics, store)


def scrape(meter: UsageMeter) -> str:
    return meter.metrics.exposition().decode()


def test_which_calls_are_metered() -> None:
    assert metered_call("api", "POST", "/v2/transcript") == "created"
    assert metered_call("api", "GET", "/v2/transcript/tr_1") == "read"
    assert metered_call("api", "DELETE", "/v2/transcript/tr_1") == "deleted"
    assert metered_call("llm_gateway", "POST", "/v1/chat/completions") == "llm"
    assert metered_call("llm_gateway", "POST", "/v1/understanding") == "llm"
    for host, method, path in [
        ("api", "GET", "/v2/transcript"),
        ("api", "GET", "/v2/transcript/tr_1/sentences"),
        ("api", "POST", "/v2/upload"),
        ("streaming", "GET", "/v3/token"),
    ]:
        assert metered_call(host, method, path) is None


async def test_streaming_sessions_are_recorded(store: SqlStore) -> None:
    meter = meter_on(store)
    await meter.record_stream("ci", 61.5)
    await meter.record_stream("ci", 0)  # nothing streamed: nothing recorded
    await meter.record_stream("ci", float("nan"))
    assert store.usage_totals(0) == [UsageTotals("ci", stream_seconds=61.5, streams=1)]
    assert 'aai_mcp_team_stream_seconds_total{team="ci"} 61.5' in scrape(meter)


async def test_only_completed_transcripts_with_a_duration_count(store: SqlStore) -> None:
    meter = meter_on(store)
    await meter.answer("ci", "created", "/v2/transcript", 200, {"id": "tr_q", "status": "queued"})
    await meter.answer("ci", "read", "/v2/transcript/tr_e", 200, {"id": "tr_e", "status": "error"})
    await meter.answer("ci", "read", "/v2/transcript/tr_x", 404, {"id": "tr_x", "status": "completed"})
    await meter.answer(
        "ci",
        "read",
        "/v2/transcript/tr_b",
        200,
        {"id": "tr_b", "status": "completed", "audio_duration": True},
    )
    assert store.usage_totals(0) == []
    assert await meter.open_jobs("ci") == 1
    await meter.answer("ci", "read", "/v2/transcript/tr_q", 200, {"id": "tr_q", "status": "completed"})
    assert await meter.open_jobs("ci") == 0


async def test_a_job_nobody_reads_again_leaves_the_count_after_the_bound(store: SqlStore) -> None:
    meter = meter_on(store)
    await meter.answer("ci", "created", "/v2/transcript", 200, {"id": "tr_old", "status": "queued"})
    assert await meter.open_jobs("ci") == 1
    meter.clock = lambda: time.time() + JOB_BOUND_SECONDS + 60
    assert await meter.open_jobs("ci") == 0


async def test_llm_usage_in_either_spelling(store: SqlStore) -> None:
    meter = meter_on(store)
    await meter.llm_answer("ci", {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15})
    await meter.llm_answer("ci", {"prompt_tokens": 3, "completion_tokens": 4})
    await meter.llm_answer("ci", {"input_tokens": "many"})
    await meter.llm_answer("ci", None)
    assert store.usage_totals(0) == [UsageTotals("ci", llm_tokens=22, prompt_tokens=13, completion_tokens=9)]


async def test_a_team_outside_the_configuration_is_counted_as_unknown() -> None:
    meter = meter_on(None)
    await meter.llm_answer("ci", {"input_tokens": 2, "output_tokens": 1})
    await meter.llm_answer("made-up-by-a-caller", {"input_tokens": 7, "output_tokens": 1})
    text = scrape(meter)
    assert 'aai_mcp_team_llm_prompt_tokens_total{team="ci"} 2.0' in text
    assert 'aai_mcp_team_llm_prompt_tokens_total{team="unknown"} 7.0' in text
    assert "made-up-by-a-caller" not in text


async def test_a_store_that_fails_loses_the_use_but_never_fails_the_call(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    meter = meter_on(store)
    with store.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE usage_records"))
    await meter.answer(
        "ci", "read", "/v2/transcript/tr_1", 200, {"id": "tr_1", "status": "completed", "audio_duration": 9}
    )
    assert await meter.totals_since("ci", 0) is None
    assert "usage: the store could not be used" in caplog.text


async def test_a_transcript_seen_finished_is_not_scanned_again(store: SqlStore) -> None:
    meter = meter_on(store)
    assert meter.wants("read", "/v2/transcript/tr_1")
    done = {"id": "tr_1", "status": "completed", "audio_duration": 3}
    await meter.answer("ci", "read", "/v2/transcript/tr_1", 200, done)
    assert not meter.wants("read", "/v2/transcript/tr_1")
    assert meter.wants("read", "/v2/transcript/tr_2") and meter.wants("llm", "/v1/chat/completions")
    assert store.usage_totals(0) == [UsageTotals("ci", 3.0, 1)]
