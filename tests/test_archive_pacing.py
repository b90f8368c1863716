"""The backfill's pacing and progress: a 429 is waited out for what it names (Retry-After, else a
backoff, never zero), a spent window pauses the next call until its reset, and the progress shows a
bar with an ETA on a terminal, one line per page elsewhere."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from aai_mcp.archive.backfill import Progress
from aai_mcp.archive.pacing import UNNAMED_WAIT_SECONDS, Pacer, paced_get
from aai_mcp.archive.progress_display import ProgressDisplay, covered
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.upstream.client import Upstream
from tests.support import ManualClock, make_settings
from tests.support.archive_runs import FakeTime

pytestmark = pytest.mark.anyio
KEY = "pacing-sim-key"


async def test_a_rate_limited_key_is_waited_out_for_its_retry_after() -> None:
    clock = ManualClock(100.0)
    app = build_simulator_app(SimulatorConfig(api_key=KEY, clock=clock))
    app.state.simulator.limit_key(KEY, 7)
    time = FakeTime()

    async def sleep(seconds: float) -> None:  # the simulator's time passes with the pacer's waits
        await time.sleep(seconds)
        clock.advance(seconds)

    pacer = Pacer(1000.0, sleep=sleep, clock=time.clock)
    async with Upstream(
        make_settings(api_key=SecretStr(KEY)), transport=httpx.ASGITransport(app=app)
    ) as upstream:
        response = await paced_get(upstream, pacer, "/v2/transcript")
    assert response.status_code == 200
    assert pacer.waits == [7.0] and 7.0 in time.slept
    assert app.state.simulator.account(KEY).refused[429] == 1


async def _answers(*responses: httpx.Response) -> tuple[list[float], list[float]]:
    queue = list(responses)
    time = FakeTime()
    pacer = Pacer(1000.0, sleep=time.sleep, clock=time.clock)
    transport = httpx.MockTransport(lambda _request: queue.pop(0))
    async with Upstream(make_settings(api_key=SecretStr(KEY)), transport=transport) as upstream:
        for _ in range(2):
            await paced_get(upstream, pacer, "/v2/transcript")
    return pacer.waits, time.slept


async def test_a_429_naming_no_wait_backs_off_instead_of_retrying_at_once() -> None:
    limited = httpx.Response(429, json={"error": "Too Many Requests"})
    waits, slept = await _answers(limited, httpx.Response(200, json={}), httpx.Response(200, json={}))
    assert waits == [UNNAMED_WAIT_SECONDS] and UNNAMED_WAIT_SECONDS in slept


async def test_a_spent_window_pauses_the_next_call_until_its_reset() -> None:
    spent = httpx.Response(200, json={}, headers={"RateLimit-Remaining": "0", "RateLimit-Reset": "3"})
    waits, slept = await _answers(spent, httpx.Response(200, json={}))
    assert waits == [3.0] and 3.0 in slept


def _progress(days_back: float) -> Progress:
    newest = datetime(2026, 6, 1, tzinfo=UTC)
    return Progress(archived=40, pages=2, newest_seen=newest, oldest_seen=newest - timedelta(days=days_back))


def test_a_terminal_gets_a_bar_with_an_eta_and_a_log_gets_lines() -> None:
    terminal = io.StringIO()
    ProgressDisplay(terminal, True)(_progress(45), True)
    assert terminal.getvalue().startswith("\r[" + "#" * 12 + "." * 12 + "]  50% 40 archived")
    assert "ETA 0:" in terminal.getvalue()
    log = io.StringIO()
    display = ProgressDisplay(log, False)
    display(_progress(45), False)
    assert log.getvalue() == ""  # a line per page, not per transcript
    display(_progress(45), True)
    assert log.getvalue().startswith("aai-mcp archive: page 2: 40 archived") and "\r" not in log.getvalue()


def test_the_share_covered_runs_to_since_or_the_retention() -> None:
    assert covered(_progress(45), None) == pytest.approx(0.5)
    assert covered(_progress(10), datetime(2026, 5, 12).date()) == pytest.approx(0.5)
    assert covered(Progress(), None) is None
