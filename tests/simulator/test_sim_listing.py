"""`GET /v2/transcript`: newest first, cursors, filters and page_details."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

NAIVE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")


async def make(sim: Harness, count: int) -> list[str]:
    """Ids of `count` transcripts, oldest first, one second apart."""
    ids = []
    for _ in range(count):
        ids.append((await sim.create("https://example.com/call.mp3"))["id"])
        sim.clock.advance(1)
    return ids


async def page(sim: Harness, **params: Any) -> dict[str, Any]:
    response = await sim.client.get("/v2/transcript", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_default_page_is_newest_first(sim: Harness) -> None:
    ids = await make(sim, 12)
    body = await page(sim)
    listed = [t["id"] for t in body["transcripts"]]
    assert listed == ids[::-1][:10]
    details = body["page_details"]
    assert details["limit"] == 10 and details["result_count"] == 10
    assert details["current_url"] == "https://api.assemblyai.com/v2/transcript"
    assert query_of(details["prev_url"]) == {"limit": "10", "before_id": ids[2]}
    assert details["next_url"] is None


async def test_walking_prev_then_next(sim: Harness) -> None:
    ids = await make(sim, 7)
    first = await page(sim, limit=3)
    assert [t["id"] for t in first["transcripts"]] == [ids[6], ids[5], ids[4]]
    older = await page(sim, **query_of(first["page_details"]["prev_url"]))
    assert [t["id"] for t in older["transcripts"]] == [ids[3], ids[2], ids[1]]
    oldest = await page(sim, **query_of(older["page_details"]["prev_url"]))
    assert [t["id"] for t in oldest["transcripts"]] == [ids[0]]
    assert oldest["page_details"]["prev_url"] is None
    newer = await page(sim, **query_of(oldest["page_details"]["next_url"]))
    assert [t["id"] for t in newer["transcripts"]] == [ids[3], ids[2], ids[1]]
    assert query_of(newer["page_details"]["next_url"])["after_id"] == ids[3]


async def test_after_id_returns_the_transcripts_right_after_the_cursor(sim: Harness) -> None:
    ids = await make(sim, 6)
    body = await page(sim, after_id=ids[1], limit=2)
    assert [t["id"] for t in body["transcripts"]] == [ids[3], ids[2]]


async def test_items_are_list_items_with_naive_timestamps(sim: Harness) -> None:
    await make(sim, 1)
    item = (await page(sim))["transcripts"][0]
    assert set(item) == {"id", "resource_url", "status", "created", "completed", "audio_url", "error"}
    assert NAIVE_TIMESTAMP.match(item["created"])
    assert item["completed"] is None and item["status"] == "processing"
    assert item["resource_url"].endswith(f"/v2/transcript/{item['id']}")
    sim.clock.advance(5)
    done = (await page(sim))["transcripts"][0]
    assert done["status"] == "completed" and NAIVE_TIMESTAMP.match(done["completed"])


async def test_status_filter(sim: Harness) -> None:
    await make(sim, 2)
    sim.clock.advance(5)
    fresh = (await sim.create("https://example.com/call.mp3"))["id"]
    queued = await page(sim, status="queued")
    assert [t["id"] for t in queued["transcripts"]] == [fresh]
    assert len((await page(sim, status="completed"))["transcripts"]) == 2


async def test_created_on_and_throttled_only(sim: Harness) -> None:
    await make(sim, 2)
    today = (await page(sim))["transcripts"][0]["created"][:10]
    assert (await page(sim, created_on=today))["page_details"]["result_count"] == 2
    assert (await page(sim, created_on="1999-01-01"))["transcripts"] == []
    assert (await page(sim, throttled_only="true"))["transcripts"] == []


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 201}, {"limit": "x"}, {"status": "done"}, {"created_on": "21/11/2026"}]
)
async def test_bad_queries_are_400(sim: Harness, params: dict[str, Any]) -> None:
    response = await sim.client.get("/v2/transcript", params=params)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)


async def test_limit_bounds_are_inclusive(sim: Harness) -> None:
    await make(sim, 3)
    assert (await page(sim, limit=1))["page_details"]["result_count"] == 1
    assert (await page(sim, limit=200))["page_details"]["result_count"] == 3
