"""search and fetch (ChatGPT connector convention) over the simulator, and ranking/paging via respx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import respx
from mcp.client import Client
from pydantic import ValidationError

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.runtime.results import META_SIMULATED, SIMULATED_BANNER
from tests.support import error_details, make_settings, text_of
from tests.test_ask_transcript import Rig, error_text, rig_with

pytestmark = pytest.mark.anyio

API = "https://api.assemblyai.com"
LIST = "/v2/transcript"
WORD_SEARCH = "/v2/transcript/{transcript_id}/word-search"
AUDIO = "https://example.com/support-call.mp3"
REDACT_NAMES = {"redact_pii": True, "redact_pii_policies": ["person_name"]}


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async for made in rig_with(search_max_transcripts=3):
        yield made


def routes(rig: Rig, since: int) -> list[str]:
    return [r.route for r in rig.sim.requests[since:]]


def text_json(result: Any) -> Any:
    return json.loads(result.content[0].text)


async def test_search_ranks_by_matches_and_scans_only_the_newest(rig: Rig) -> None:
    plain_old = [await rig.create(speaker_labels=True) for _ in range(2)]
    redacted_a = await rig.create(**REDACT_NAMES)
    plain = await rig.create(speaker_labels=True)
    redacted_b = await rig.create(**REDACT_NAMES)
    since = len(rig.sim.requests)
    result = await rig.client.call_tool("search", {"query": "Maria refund?"})
    assert not result.is_error, result.content
    ids = [item["id"] for item in result.structured_content["results"]]
    # Names are redacted in two of them: the unredacted one ranks first, ties stay newest first.
    assert ids == [plain, redacted_b, redacted_a]
    assert not set(plain_old) & set(ids)
    # The bound: one list page plus one word search per scanned transcript (search_max_transcripts=3).
    assert routes(rig, since) == [f"GET {LIST}"] + [f"GET {WORD_SEARCH}"] * 3
    assert rig.sim.requests[since].query == "status=completed&limit=3"
    first = result.structured_content["results"][0]
    assert first["url"] == f"{API}/v2/transcript/{plain}"
    assert first["title"].startswith(f"Transcript {plain} — 20")
    assert "matches for 'maria', 'refund')" in first["title"]
    assert text_json(result) == result.structured_content


async def test_search_skips_deleted_transcripts_and_can_find_nothing(rig: Rig) -> None:
    kept = await rig.create(speaker_labels=True)
    gone = await rig.create(speaker_labels=True)
    await rig.client.call_tool("delete_transcript", {"transcript_id": gone})
    since = len(rig.sim.requests)
    found = await rig.client.call_tool("search", {"query": "overdraft"})
    assert [item["id"] for item in found.structured_content["results"]] == [kept]
    assert routes(rig, since) == [f"GET {LIST}", f"GET {WORD_SEARCH}"]
    nothing = await rig.client.call_tool("search", {"query": "zeppelin"})
    assert nothing.structured_content == {"results": []}
    assert text_json(nothing) == {"results": []}


@pytest.mark.parametrize(("query", "expected"), [("   ", "no words"), ("?!", "no words"), ("", "query")])
async def test_blank_query_is_refused_before_any_upstream_call(rig: Rig, query: str, expected: str) -> None:
    result = await rig.client.call_tool("search", {"query": query})
    assert expected in error_text(result)
    assert rig.sim.requests == []


async def test_fetch_returns_the_document_shape(rig: Rig) -> None:
    transcript_id = await rig.create(speaker_labels=True)
    result = await rig.client.call_tool("fetch", {"id": transcript_id})
    assert not result.is_error, result.content
    doc = result.structured_content
    assert text_json(result) == doc
    assert (doc["id"], doc["url"]) == (transcript_id, f"{API}/v2/transcript/{transcript_id}")
    assert doc["title"].startswith(f"Transcript {transcript_id} (")
    assert doc["text"].startswith("[00:00] A: Thank you for calling")
    assert "\n[00:08] B: " in doc["text"]
    assert doc["metadata"]["status"] == "completed"
    assert {"audio_url", "audio_duration", "language_code", "confidence"} <= set(doc["metadata"])
    assert "truncated" not in doc["metadata"]


@asynccontextmanager
async def simulated(**settings: Any) -> AsyncIterator[Client]:
    """The built-in simulator (no key), as a first run without ASSEMBLYAI_API_KEY has it."""
    gateway = build_gateway(make_settings(api_key=None, simulator_delay_seconds=0.0, **settings))
    try:
        async with Client(build_server(gateway)) as client:
            yield client
    finally:
        await gateway.aclose()


async def test_simulated_search_and_fetch_text_is_exactly_the_connector_json() -> None:
    async with simulated() as client:
        created = await client.call_tool("create_transcript", {"audio_url": AUDIO, "speaker_labels": True})
        assert text_of(created).startswith(SIMULATED_BANNER)  # other tools keep the banner
        transcript_id = created.structured_content["id"]
        found = await client.call_tool("search", {"query": "refund"})
        fetched = await client.call_tool("fetch", {"id": transcript_id})
    for result in (found, fetched):
        assert not result.is_error, result.content
        assert len(result.content) == 1
        assert text_of(result) == json.dumps(result.structured_content, ensure_ascii=False)
        assert (result.meta or {})[META_SIMULATED] is True
    assert [item["id"] for item in found.structured_content["results"]] == [transcript_id]
    for url in (found.structured_content["results"][0]["url"], fetched.structured_content["url"]):
        assert url == f"{API}/v2/transcript/{transcript_id}"


@pytest.mark.parametrize(
    ("settings", "base"),
    [
        (
            {"transcript_url_base": "https://transcripts.example.com/view/"},
            "https://transcripts.example.com/view/",
        ),
        ({"region": "eu"}, "https://api.eu.assemblyai.com/v2/transcript/"),
    ],
)
async def test_result_links_use_the_configured_base(settings: dict[str, Any], base: str) -> None:
    async with simulated(**settings) as client:
        created = await client.call_tool("create_transcript", {"audio_url": AUDIO})
        transcript_id = created.structured_content["id"]
        found = await client.call_tool("search", {"query": "refund"})
        fetched = await client.call_tool("fetch", {"id": transcript_id})
    assert found.structured_content["results"][0]["url"] == base + transcript_id
    assert fetched.structured_content["url"] == base + transcript_id


@pytest.mark.parametrize(
    "base", ["http://transcripts.example.com/", "https://transcripts.example.com/view", "assemblyai://t/"]
)
def test_the_url_base_must_be_an_https_prefix(base: str) -> None:
    with pytest.raises(ValidationError, match="transcript_url_base"):
        make_settings(transcript_url_base=base)


async def test_fetch_without_speakers_is_the_plain_text(rig: Rig) -> None:
    transcript_id = await rig.create()
    transcript = await rig.client.call_tool("get_transcript", {"transcript_id": transcript_id})
    result = await rig.client.call_tool("fetch", {"id": transcript_id})
    assert result.structured_content["text"] == transcript.structured_content["text"]


@pytest.mark.parametrize("speakers", [True, False])
async def test_fetch_caps_long_text_with_a_notice(speakers: bool) -> None:
    async for rig in rig_with(max_result_chars=1_000):
        transcript_id = await rig.create(speaker_labels=speakers)
        doc = (await rig.client.call_tool("fetch", {"id": transcript_id})).structured_content
        shown, notice = doc["text"].rsplit("\n[truncated: ", 1)
        assert len(shown) == 500
        assert doc["metadata"]["truncated"] is True and doc["metadata"]["total_chars"] > 1_000
        if speakers:
            assert f"get_paragraphs or get_sentences with transcript_id={transcript_id}" in notice
        else:
            assert f"get_transcript with transcript_id={transcript_id} and text_offset=500" in notice


async def test_fetch_refuses_a_transcript_that_is_not_completed() -> None:
    async for rig in rig_with(delay=60.0):
        transcript_id = await rig.create()
        message = error_text(await rig.client.call_tool("fetch", {"id": transcript_id}))
        assert transcript_id in message and "status: " in message and "wait_for_transcript" in message


async def test_fetch_of_an_unknown_id_is_an_upstream_error(rig: Rig) -> None:
    result = await rig.client.call_tool("fetch", {"id": "missing"})
    assert error_details(result)["status"] == 404
    assert "Reading transcript missing failed" in error_text(result)


# --- ranking and paging against exact upstream answers ---


def item(transcript_id: str) -> dict[str, Any]:
    return {
        "id": transcript_id,
        "resource_url": f"{API}/v2/transcript/{transcript_id}",
        "status": "completed",
        "created": "2024-03-11T21:29:59.936851",
        "completed": "2024-03-11T21:31:02.000000",
        "audio_url": "https://example.com/a.mp3",
        "error": None,
    }


def page(ids: list[str], older: bool) -> dict[str, Any]:
    prev_url = f"{API}/v2/transcript?before_id={ids[-1]}" if older else None
    details = {
        "limit": 10,
        "result_count": len(ids),
        "current_url": "",
        "prev_url": prev_url,
        "next_url": None,
    }
    return {"page_details": details, "transcripts": [item(i) for i in ids]}


def matches(phrase: int, overdraft: int, fee: int) -> dict[str, Any]:
    counts = {"the overdraft fee": phrase, "overdraft": overdraft, "fee": fee}
    found = [{"text": text, "count": n, "timestamps": [], "indexes": []} for text, n in counts.items()]
    return {"id": "x", "total_count": sum(counts.values()), "matches": found}


async def test_phrase_hits_rank_first_and_list_pages_follow_before_id(
    client: Client, respx_mock: respx.MockRouter
) -> None:
    pages = iter([page(["t1", "t2"], older=True), page(["t3", "t4", "t5"], older=False)])
    listed = respx_mock.get(f"{API}/v2/transcript").mock(
        side_effect=lambda _: httpx.Response(200, json=next(pages))
    )
    answers = {"t1": matches(0, 5, 1), "t2": matches(1, 1, 1), "t4": matches(0, 0, 0)}

    def word_search(request: httpx.Request) -> httpx.Response:
        transcript_id = request.url.path.split("/")[3]
        if transcript_id not in answers:
            return httpx.Response(404, json={"error": "Not found"})
        return httpx.Response(200, json=answers[transcript_id])

    searched = respx_mock.get(url__regex=rf"{API}/v2/transcript/t\d/word-search").mock(
        side_effect=word_search
    )
    result = await client.call_tool("search", {"query": "the Overdraft fee"})
    assert [r["id"] for r in result.structured_content["results"]] == ["t2", "t1"]
    assert result.structured_content["results"][0]["title"] == (
        "Transcript t2 — 2024-03-11 21:29 "
        "(2 matches for 'overdraft', 'fee', 1× the phrase 'the overdraft fee')"
    )
    assert [dict(call.request.url.params) for call in listed.calls] == [
        {"status": "completed", "limit": "20"},
        {"status": "completed", "limit": "18", "before_id": "t2"},
    ]
    assert {call.request.url.params["words"] for call in searched.calls} == {
        "the overdraft fee,overdraft,fee"
    }
    assert searched.call_count == 5


async def test_listing_stops_after_the_page_bound(client: Client, respx_mock: respx.MockRouter) -> None:
    counter = iter(range(100))
    listed = respx_mock.get(f"{API}/v2/transcript").mock(
        side_effect=lambda _: httpx.Response(200, json=page([f"t{next(counter)}"], older=True))
    )
    searched = respx_mock.get(url__regex=rf"{API}/v2/transcript/t\d+/word-search").respond(
        200, json=matches(0, 1, 0)
    )
    result = await client.call_tool("search", {"query": "overdraft"})
    assert listed.call_count == 3 and searched.call_count == 3
    assert len(result.structured_content["results"]) == 3


async def test_search_rate_limit_is_an_error_not_an_empty_result(
    client: Client, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/v2/transcript").respond(200, json=page(["t1"], older=False))
    respx_mock.get(f"{API}/v2/transcript/t1/word-search").respond(
        429, json={"error": "Too Many Requests"}, headers={"Retry-After": "3"}
    )
    result = await client.call_tool("search", {"query": "fee"})
    error = error_details(result)
    assert result.is_error and error["status"] == 429 and error["retry_after_seconds"] == 3
    assert error["message"].startswith("Searching transcript t1 failed")
