"""Reading the archive through MCP (issue 13 part 5), on SQLite and PostgreSQL: transcripts past the
simulator's 90-day retention that the archive holds are found by search and search_archive and read
by get_transcript and fetch, marked as coming from the archive; another account finds nothing; a
token without read permission cannot search; without a store the tools answer from upstream as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import TextResourceContents
from pydantic import SecretStr

from aai_mcp.access.principal import Principal
from aai_mcp.access.scopes import Scopes
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.resources import ARCHIVE_META, TranscriptResources
from aai_mcp.simulator.jobs import TranscriptRecord
from aai_mcp.simulator.render import transcript_json
from aai_mcp.state.archive_search import ExtractedFilter, Scalar, SearchFilters, search_transcripts
from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
from aai_mcp.state.extraction_store import ExtractionStore, StoredExtraction
from aai_mcp.state.store_sql import SqlStore
from tests.support import make_settings, text_of
from tests.support.archive_runs import HISTORY_KEY, Seeded, seeded_simulator

pytestmark = pytest.mark.anyio

# Said once, in one transcript that only the archive still holds: a search for it has one right answer.
MARKER_LINE = "The Zanzibar contract renews in March."
MARKER_WORD = "zanzibar"
OWNER = Principal(id="owner-token", scopes=Scopes())
STRANGER = Principal(id="stranger-token", scopes=Scopes(), account="other-team")


@dataclass
class Archived:
    seeded: Seeded
    gateway: Gateway
    expired: TranscriptRecord
    """A completed transcript past the simulator's retention, which only the archive holds."""

    async def call(self, tool: str, args: dict[str, Any], principal: Principal = OWNER) -> Any:
        return await self.gateway.runner.call(tool, args, principal=principal)

    def upstream_reads(self, transcript_id: str) -> int:
        wanted = f"/v2/transcript/{transcript_id}"
        return sum(1 for r in self.seeded.simulator.requests if r.method == "GET" and r.path == wanted)


def archive_everything(seeded: Seeded, archive: ArchiveStore) -> list[TranscriptRecord]:
    """What an earlier backfill would have kept: every completed transcript, the expired ones too; the
    oldest says MARKER_LINE at its end."""
    simulator = seeded.simulator
    kept = [r for r in simulator.transcripts.newest_first() if simulator.status_of(r) == "completed"]
    for record in kept:
        answer = transcript_json(record, "completed")
        if record is kept[-1]:
            answer = with_marker(answer)
        archive.upsert(ArchivedTranscript.from_upstream(answer, created_at=record.created_wall.timestamp()))
    return kept


def with_marker(answer: dict[str, Any]) -> dict[str, Any]:
    end = max(int(u["end"]) for u in answer["utterances"])
    line = {"speaker": "B", "start": end + 500, "end": end + 2500, "text": MARKER_LINE, "words": []}
    return {**answer, "text": f"{answer['text']} {MARKER_LINE}", "utterances": [*answer["utterances"], line]}


def build(seeded: Seeded) -> Gateway:
    settings = make_settings(api_key=SecretStr(HISTORY_KEY), search_max_transcripts=20)
    return build_gateway(settings, transport=httpx.ASGITransport(app=seeded.app))


@pytest.fixture
async def archived(store: SqlStore) -> AsyncIterator[Archived]:
    seeded = seeded_simulator(count=60, days=120, seed=5)
    archive = ArchiveStore(store.engine)
    kept = archive_everything(seeded, archive)
    expired = [r for r in kept if seeded.simulator.expired(r)]
    assert expired and len(expired) < len(kept), "the seeded history spans the retention"
    gateway = build(seeded)
    gateway.use_store(store, archive)
    try:
        yield Archived(seeded, gateway, kept[-1])
    finally:
        await gateway.aclose()


def distinctive_word(text: str) -> str:
    return str(max(re.findall(r"[A-Za-z]{6,}", text), key=len)).lower()


def record_text(record: TranscriptRecord) -> str:
    return str(transcript_json(record, "completed")["text"])


def archived_text(record: TranscriptRecord) -> str:
    return f"{record_text(record)} {MARKER_LINE}"


async def test_upstream_no_longer_has_the_expired_transcript(archived: Archived) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=archived.seeded.app), base_url="http://sim"
    ) as client:
        response = await client.get(
            f"/v2/transcript/{archived.expired.transcript_id}", headers={"authorization": HISTORY_KEY}
        )
    assert response.status_code == 404


async def test_get_transcript_reads_the_expired_transcript_from_the_archive_marked(
    archived: Archived,
) -> None:
    transcript_id = archived.expired.transcript_id
    result = await archived.call("get_transcript", {"transcript_id": transcript_id})
    assert not result.is_error, result.content
    out = result.structured_content
    assert out["status"] == "completed" and out["text"] == archived_text(archived.expired)
    assert out["archive"] == {"source": "archive", "upstream_deleted": False, "expired": True}
    assert "Read from the server's archive: AssemblyAI no longer has this transcript" in text_of(result)
    assert archived.upstream_reads(transcript_id) == 0  # the archive answered first


async def test_fetch_reads_the_expired_transcript_from_the_archive_marked(archived: Archived) -> None:
    transcript_id = archived.expired.transcript_id
    result = await archived.call("fetch", {"id": transcript_id})
    assert not result.is_error, result.content
    document = result.structured_content
    assert document["id"] == transcript_id and document["metadata"]["archive"]["expired"] is True
    assert document["text"].startswith("[Read from the server's archive")
    assert MARKER_LINE in document["text"]


async def test_connector_search_finds_the_expired_transcript_in_the_archive(archived: Archived) -> None:
    result = await archived.call("search", {"query": MARKER_WORD})
    assert not result.is_error, result.content
    found = {item["id"]: item for item in result.structured_content["results"]}
    assert archived.expired.transcript_id in found
    assert "(archived)" in found[archived.expired.transcript_id]["title"]


async def test_search_archive_ranks_hits_with_snippets_and_timestamps(archived: Archived) -> None:
    result = await archived.call("search_archive", {"query": f"{MARKER_WORD} contract"})
    assert not result.is_error, result.content
    out = result.structured_content
    assert out["source"] == "archive" and "next_cursor" not in out
    [hit] = out["results"]
    assert hit["transcript_id"] == archived.expired.transcript_id
    assert hit["expired"] is True and hit["upstream_deleted"] is False and hit["status"] == "completed"
    assert "[Zanzibar]" in hit["snippet"]
    assert hit["created"].startswith(archived.expired.created_wall.strftime("%Y-%m-%d"))
    [span] = hit["hits"]
    assert span["text"] == MARKER_LINE and span["speaker"] == "B" and span["end"] - span["start"] == 2000
    assert "gone upstream (archive only)" in text_of(result)


async def test_search_archive_puts_the_better_match_first(archived: Archived) -> None:
    word = distinctive_word(record_text(archived.expired))
    out = (await archived.call("search_archive", {"query": word, "max_results": 50})).structured_content
    ranks = [item["rank"] for item in out["results"]]
    assert len(ranks) > 1 and ranks == sorted(ranks, reverse=True)


async def test_search_archive_filters_by_speaker_date_and_pages_by_cursor(archived: Archived) -> None:
    query = {"query": distinctive_word(record_text(archived.expired)), "max_results": 50}
    everything = (await archived.call("search_archive", query)).structured_content["results"]
    assert len(everything) >= 3, "the word is in several transcripts"
    speakers = {span["speaker"] for hit in everything for span in hit["hits"] if "speaker" in span}
    speaker = sorted(speakers)[0]
    by_speaker = await archived.call("search_archive", {**query, "speaker": speaker})
    spans = [span for hit in by_speaker.structured_content["results"] for span in hit["hits"]]
    assert spans and {span.get("speaker") for span in spans} == {speaker}
    cut = archived.expired.created_wall.isoformat()
    older = (await archived.call("search_archive", {**query, "created_before": cut})).structured_content
    assert all(hit["created"] < cut[:19] for hit in older["results"])
    assert archived.expired.transcript_id not in {hit["transcript_id"] for hit in older["results"]}
    paged_by_speaker = await every_page(archived, {**query, "speaker": speaker, "max_results": 2})
    assert paged_by_speaker == await every_page(archived, {**query, "speaker": speaker})
    assert len(set(paged_by_speaker)) == len(paged_by_speaker) > 2  # several pages, no hit twice
    failed = await archived.call("search_archive", {**query, "status_filter": "error"})
    assert failed.structured_content["results"] == []  # only completed transcripts were archived
    first = (await archived.call("search_archive", {**query, "max_results": 2})).structured_content
    second = await archived.call(
        "search_archive", {**query, "max_results": 2, "cursor": first["next_cursor"]}
    )
    paged = [hit["transcript_id"] for hit in first["results"] + second.structured_content["results"]]
    assert paged == [hit["transcript_id"] for hit in everything[:4]]


async def every_page(archived: Archived, args: dict[str, Any]) -> list[str]:
    """The transcript ids of every page, following next_cursor (a speaker filter makes short pages)."""
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        page = await archived.call("search_archive", {**args, **({"cursor": cursor} if cursor else {})})
        ids += [hit["transcript_id"] for hit in page.structured_content["results"]]
        cursor = page.structured_content.get("next_cursor")
        if cursor is None:
            return ids
    raise AssertionError("next_cursor never ran out")


async def test_another_accounts_token_finds_and_reads_nothing_of_this_account(archived: Archived) -> None:
    transcript_id = archived.expired.transcript_id
    searched = await archived.call("search_archive", {"query": MARKER_WORD}, STRANGER)
    assert not searched.is_error and searched.structured_content["results"] == []
    mine = await archived.call("search_archive", {"query": MARKER_WORD})
    assert [hit["transcript_id"] for hit in mine.structured_content["results"]] == [transcript_id]
    connector = await archived.call("search", {"query": MARKER_WORD}, STRANGER)
    assert transcript_id not in {item["id"] for item in connector.structured_content["results"]}
    for tool, args in (
        ("get_transcript", {"transcript_id": transcript_id}),
        ("fetch", {"id": transcript_id}),
    ):
        result = await archived.call(tool, args, STRANGER)
        assert result.is_error, (tool, result.content)  # upstream's 404: the archive's copy is not theirs
        assert MARKER_LINE not in text_of(result)


async def test_a_token_without_read_permission_cannot_search_the_archive(archived: Archived) -> None:
    # search_archive uses list_transcripts and get_transcript on every call: a token must hold those too,
    # else the tool is hidden (refused as unknown, like every tool a token may not use).
    only_search = Principal(id="narrow", scopes=Scopes(tools=frozenset({"search_archive"})))
    no_reads = Principal(id="writer", scopes=Scopes(methods=frozenset({"transcription"})))
    for principal in (only_search, no_reads):
        with pytest.raises(MCPError, match="Unknown tool: search_archive"):
            await archived.call("search_archive", {"query": MARKER_WORD}, principal)
    readers = frozenset({"search_archive", "list_transcripts", "get_transcript"})
    reader = Principal(id="reader", scopes=Scopes(tools=readers))
    allowed = await archived.call("search_archive", {"query": MARKER_WORD}, reader)
    assert not allowed.is_error and len(allowed.structured_content["results"]) == 1


async def test_transcript_resources_read_the_archive_first_marked_in_meta(archived: Archived) -> None:
    uri = f"assemblyai://transcripts/{archived.expired.transcript_id}"
    mine = TranscriptResources(archived.gateway, OWNER)
    [whole] = (await mine.read(uri)).contents
    assert isinstance(whole, TextResourceContents)
    assert whole.meta == {ARCHIVE_META: {"source": "archive", "upstream_deleted": False, "expired": True}}
    assert json.loads(whole.text)["archive"]["expired"] is True
    [text] = (await mine.read(f"{uri}/text")).contents
    assert isinstance(text, TextResourceContents)
    assert text.text == archived_text(archived.expired) and text.meta is not None
    # Subtitles were not archived: upstream is asked, and it no longer has the transcript.
    with pytest.raises(MCPError):
        await mine.read(f"{uri}/subtitles.vtt")
    with pytest.raises(MCPError):
        await TranscriptResources(archived.gateway, STRANGER).read(f"{uri}/text")
    assert archived.upstream_reads(archived.expired.transcript_id) == 1  # the stranger's, answered 404


async def test_without_a_store_the_tools_answer_from_upstream_as_before() -> None:
    seeded = seeded_simulator(count=60, days=120, seed=5)
    expired = next(r for r in seeded.simulator.transcripts.newest_first() if seeded.simulator.expired(r))
    gateway = build(seeded)
    try:
        read = await gateway.runner.call("get_transcript", {"transcript_id": expired.transcript_id})
        assert read.is_error and "archive" not in (read.structured_content or {})
        word = distinctive_word(record_text(expired))
        searched = await gateway.runner.call("search_archive", {"query": word})
        assert not searched.is_error, searched.content
        out = searched.structured_content
        assert out["source"] == "upstream" and "keeps no archive" in out["notes"][0]
        assert expired.transcript_id not in {hit["transcript_id"] for hit in out["results"]}
        assert all(
            not seeded.simulator.expired(r)
            for r in seeded.simulator.transcripts.newest_first()
            if r.transcript_id in {hit["transcript_id"] for hit in out["results"]}
        )
    finally:
        await gateway.aclose()


def stored_fields(store: SqlStore, transcript_id: str, kit: str, account: str, **values: Any) -> None:
    """An extraction result of `kit` for `transcript_id`, as extract_from_transcript would keep it."""
    fields = {name: {"value": value, "confidence": 0.9, "evidence": []} for name, value in values.items()}
    result = StoredExtraction(kit, transcript_id, account, "k" * 64, "t" * 64, "m", fields, 0, 0, 1.0)
    ExtractionStore(store.engine).save(result)


async def test_search_archive_filters_on_extracted_field_values(archived: Archived, store: SqlStore) -> None:
    query = {"query": distinctive_word(record_text(archived.expired)), "max_results": 50}
    everything = (await archived.call("search_archive", query)).structured_content["results"]
    first, second, third = (hit["transcript_id"] for hit in everything[:3])
    qa, sales = "support-call-qa", "sales-call"
    stored_fields(store, first, qa, "default", risk_flag=True, resolution="resolved",
                  customer_frustration_causes=["long wait", "Billing error"])  # fmt: skip
    stored_fields(store, second, qa, "default", risk_flag=False, resolution="unresolved",
                  customer_frustration_causes=["long wait"])  # fmt: skip
    stored_fields(store, third, sales, "default", competitors_mentioned=["Acme Voice"])
    # Another team's result for the third says it was risky: it must not leak into this account's search.
    stored_fields(store, third, qa, STRANGER.account or "", risk_flag=True)

    async def found(kit: str, **extracted: Any) -> list[str]:
        result = await archived.call("search_archive", {**query, "kit": kit, "extracted": extracted})
        assert not result.is_error, result.content
        return sorted(hit["transcript_id"] for hit in result.structured_content["results"])

    assert await found(qa, risk_flag=True) == [first]
    assert await found(qa, risk_flag=False) == [second]
    assert await found(qa, customer_frustration_causes="LONG WAIT") == sorted([first, second])
    assert await found(qa, customer_frustration_causes="billing error") == [first]
    assert await found(qa, resolution="resolved") == [first]  # equality, not a substring of "unresolved"
    assert await found(qa, risk_flag=False, customer_frustration_causes="long wait") == [second]
    assert await found(qa, risk_flag="true") == []  # a string is not the boolean
    assert await found(sales, competitors_mentioned="acme voice") == [third]
    assert await found(sales, competitors_mentioned="Acme") == []


async def test_extracted_filters_name_a_kit_and_its_fields(archived: Archived) -> None:
    base = {"query": MARKER_WORD}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"extracted": {"risk_flag": True}}, "pass kit too"),
        ({"kit": "no-such-kit", "extracted": {"risk_flag": True}}, "No extraction kit"),
        ({"kit": "support-call-qa", "extracted": {"churn": True}}, "has no field 'churn'"),
        ({"kit": "sales-call", "extracted": {f"f{i}": 1 for i in range(9)}}, "at most 8 fields"),
    ]
    for args, message in cases:
        result = await archived.call("search_archive", {**base, **args})
        assert result.is_error and message in text_of(result), (args, text_of(result))


def test_numbers_in_extracted_fields_match_by_value(store: SqlStore) -> None:
    archive = ArchiveStore(store.engine)
    answer = {"id": "n1", "status": "completed", "text": "quarterly numbers", "utterances": []}
    archive.upsert(ArchivedTranscript.from_upstream(answer, created_at=1.0))
    fields = {"score": {"value": 7, "confidence": 1.0, "evidence": []}}
    ExtractionStore(store.engine).save(StoredExtraction("k", "n1", "default", "", "", "m", fields, 0, 0, 1.0))

    def hits(value: Scalar) -> list[str]:
        filters = SearchFilters("default", extracted=ExtractedFilter("k", (("score", value),)))
        with store.engine.connect() as connection:
            return [hit.transcript_id for hit in search_transcripts(connection, "quarterly", 10, filters)]

    assert hits(7) == hits(7.0) == ["n1"]
    assert hits(8) == [] and hits("7") == [] and hits(True) == []
