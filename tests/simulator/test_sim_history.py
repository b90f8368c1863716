"""Seeded history: past transcripts the same for the same seed, the list's paging and filters over
them as AssemblyAI's, and its 90-day retention (older ones 404 and absent from the list)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import Simulator
from tests.support import ManualClock
from tests.support.simulator_harness import API_KEY

pytestmark = pytest.mark.anyio
STARTED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _app(clock: ManualClock, count: int = 300, days: float = 120, seed: int = 7) -> Any:
    config = SimulatorConfig(
        api_key=API_KEY, clock=clock, started_at=STARTED, history_count=count, history_days=days, seed=seed
    )
    return build_simulator_app(config)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1000.0)


@pytest.fixture
async def seeded(clock: ManualClock) -> AsyncIterator[tuple[httpx.AsyncClient, Simulator]]:
    app = _app(clock)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": API_KEY}
    async with httpx.AsyncClient(
        transport=transport, base_url="https://api.assemblyai.com", headers=headers
    ) as c:
        yield c, app.state.simulator


async def _walk(client: httpx.AsyncClient, link: str, **params: Any) -> list[dict[str, Any]]:
    """Every item, following `link` (prev_url: older, next_url: newer) from the first page."""
    items: list[dict[str, Any]] = []
    while True:
        response = await client.get("/v2/transcript", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["transcripts"]
        url = body["page_details"][link]
        if url is None:
            return items
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _cutoff() -> str:
    return (STARTED - timedelta(days=90)).replace(tzinfo=None).isoformat()


async def test_the_history_lists_only_the_last_90_days_newest_first(
    seeded: tuple[httpx.AsyncClient, Simulator],
) -> None:
    client, simulator = seeded
    records = simulator.transcripts.newest_first()
    assert len(records) == 300
    kept = [r.transcript_id for r in records if not simulator.expired(r)]
    assert 180 < len(kept) < 270  # ~3/4 of 120 days
    listed = await _walk(client, "prev_url", limit=37)
    assert [t["id"] for t in listed] == kept
    created = [t["created"] for t in listed]
    assert created == sorted(created, reverse=True) and min(created) > _cutoff()
    statuses = {t["status"] for t in listed}
    assert statuses == {"completed", "error"}


async def test_an_expired_transcript_is_gone_and_a_kept_one_complete(
    seeded: tuple[httpx.AsyncClient, Simulator],
) -> None:
    client, simulator = seeded
    records = simulator.transcripts.newest_first()
    gone = next(r for r in records if simulator.expired(r))
    kept = next(r for r in records if not simulator.expired(r) and r.failure is None)
    assert (await client.get(f"/v2/transcript/{gone.transcript_id}")).status_code == 404
    body = (await client.get(f"/v2/transcript/{kept.transcript_id}")).json()
    assert body["status"] == "completed" and body["text"]


async def test_time_passing_expires_more(
    seeded: tuple[httpx.AsyncClient, Simulator], clock: ManualClock
) -> None:
    client, _ = seeded
    before = await _walk(client, "prev_url", limit=200)
    clock.advance(10 * 86_400)
    after = await _walk(client, "prev_url", limit=200)
    assert 0 < len(after) < len(before)
    assert [t["id"] for t in after] == [t["id"] for t in before][: len(after)]


async def test_filters_and_upward_paging_over_the_history(
    seeded: tuple[httpx.AsyncClient, Simulator],
) -> None:
    client, _ = seeded
    everything = await _walk(client, "prev_url", limit=200)
    failed = await _walk(client, "prev_url", limit=10, status="error")
    assert [t["id"] for t in failed] == [t["id"] for t in everything if t["status"] == "error"]
    day = everything[40]["created"][:10]
    on_day = await _walk(client, "prev_url", created_on=day, limit=5)
    assert [t["id"] for t in on_day] == [t["id"] for t in everything if t["created"].startswith(day)]
    oldest = everything[-1]["id"]
    upward = await _walk(client, "next_url", after_id=oldest, limit=50)
    assert sorted(t["id"] for t in upward) == sorted(t["id"] for t in everything[:-1])


def test_the_same_seed_gives_the_same_history() -> None:
    def ids(seed: int) -> list[str]:
        simulator: Simulator = _app(ManualClock(5.0), count=20, seed=seed).state.simulator
        return [r.transcript_id for r in simulator.transcripts.newest_first()]

    assert ids(3) == ids(3)
    assert ids(3) != ids(4)


async def test_new_transcripts_come_after_the_history(seeded: tuple[httpx.AsyncClient, Simulator]) -> None:
    client, simulator = seeded
    made = await client.post(
        "/v2/transcript", json={"audio_url": "https://example.com/a.mp3", "speech_models": ["universal"]}
    )
    first = (await client.get("/v2/transcript", params={"limit": 1})).json()["transcripts"][0]
    assert first["id"] == made.json()["id"]
    simulator.reset()
    assert len(simulator.transcripts) == 300  # the configured history comes back with a reset
