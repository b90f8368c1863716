"""Reading the gateway's transcript archive (when the server has a store) before upstream, which
deletes transcripts after 90 days: search_archive, and the archived copy behind get_transcript and
fetch. Every answer from the archive says so (`archive` in the payload, a note in the text); a caller
only ever sees its own account's rows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from aai_mcp.caller_input import ToolInputError, quoted
from aai_mcp.mcp_server.handlers.archived_copies import archived_copy, iso_time, past_retention
from aai_mcp.mcp_server.handlers.ask import gather_bounded
from aai_mcp.mcp_server.handlers.connector import count_matches, recent_completed, search_terms
from aai_mcp.mcp_server.handlers.structured_extraction import chosen_kit
from aai_mcp.mcp_server.handlers.upstream_deletions import forward_noting_gone
from aai_mcp.mcp_server.runtime.tool_call import ToolCall

if TYPE_CHECKING:
    from aai_mcp.state.archive_search import ExtractedFilter, SearchFilters, SearchHit
    from aai_mcp.state.archive_store import ArchiveStore

SEARCH_ARCHIVE_CALLS = frozenset({"list", "word_search"})  # only without a store: recent transcripts
GET_TRANSCRIPT_CALLS = frozenset({"read"})
CURSOR_PREFIX = "offset:"


async def get_transcript(call: ToolCall) -> Any:
    """A completed transcript the archive holds comes from the archive (it outlives upstream's 90
    days); anything else is forwarded as before."""
    transcript_id = str(call.args["transcript_id"])
    archived = await archived_copy(call.archive, call.account, transcript_id)
    return archived if archived is not None else await forward_noting_gone(call, transcript_id)


async def search_archive(call: ToolCall) -> dict[str, Any]:
    """Ranked full-text search of the caller's account's archive; without a store, a word search of
    the recent transcripts upstream still holds (filters other than the query cannot apply there)."""
    query = str(call.args["query"])
    if call.archive is None:
        return await _recent_search(call, query)
    limit = int(call.args.get("max_results", 10))
    offset = _offset(call.args.get("cursor"))
    from aai_mcp.state.archive_search import SearchFilters  # SQL-backed: loaded on first use

    filters = SearchFilters(
        account=call.account,
        status=call.args.get("status_filter"),
        since=_epoch(call.args.get("created_after"), "created_after"),
        until=_epoch(call.args.get("created_before"), "created_before"),
        speaker=call.args.get("speaker"),
        extracted=extracted_filter(call),
    )
    search_terms(query)  # refuses a query without words, saying what to pass
    hits, more = await _page(call.archive, query, limit, filters, offset)
    return {
        "source": "archive",
        "results": [_archive_result(hit) for hit in hits],
        "next_cursor": f"{CURSOR_PREFIX}{offset + limit}" if more else None,
    }


async def _page(
    archive: ArchiveStore, query: str, limit: int, filters: SearchFilters, offset: int
) -> tuple[list[SearchHit], bool]:
    """Ranked rows offset..offset+limit (fewer with a speaker filter, which drops rows after ranking),
    and whether rows remain after them. The cursor counts ranked rows, so no hit is shown twice."""
    if filters.speaker is None:
        hits = await anyio.to_thread.run_sync(lambda: archive.search(query, limit + 1, filters, offset))
        return hits[:limit], len(hits) > limit
    hits = await anyio.to_thread.run_sync(lambda: archive.search(query, limit, filters, offset))
    unfiltered = replace(filters, speaker=None)
    rest = await anyio.to_thread.run_sync(lambda: archive.search(query, 1, unfiltered, offset + limit))
    return hits, bool(rest)


def _archive_result(hit: SearchHit) -> dict[str, Any]:
    return {
        "transcript_id": hit.transcript_id,
        "snippet": hit.snippet,
        "rank": hit.rank,
        "created": iso_time(hit.created_at),
        "status": hit.status,
        "upstream_deleted": hit.upstream_deleted,
        "expired": past_retention(hit.created_at),
        "hits": [{"start": s.start, "end": s.end, "speaker": s.speaker, "text": s.text} for s in hit.spans],
    }


async def _recent_search(call: ToolCall, query: str) -> dict[str, Any]:
    terms = search_terms(query)
    items = await recent_completed(call)
    found = [hit for hit in await gather_bounded(items, lambda i: count_matches(call, i, terms)) if hit]
    ranked = sorted(found, key=lambda hit: (-hit.phrase_count, -hit.word_count))
    results: list[dict[str, Any]] = [
        {
            "transcript_id": hit.transcript_id,
            "snippet": "",
            "rank": float(hit.phrase_count * 1000 + hit.word_count),
            "created": hit.created or None,
            "status": "completed",
            "upstream_deleted": False,
            "expired": False,
            "hits": [],
        }
        for hit in ranked[: int(call.args.get("max_results", 10))]
    ]
    return {"source": "upstream", "results": results, "next_cursor": None}


def _offset(cursor: Any) -> int:
    if cursor is None:
        return 0
    text = str(cursor)
    digits = text.removeprefix(CURSOR_PREFIX)
    if not text.startswith(CURSOR_PREFIX) or not digits.isdigit():
        raise ToolInputError("cursor is not one this tool gave: pass next_cursor from a previous answer.")
    return int(digits)


MAX_EXTRACTED_FILTERS = 8


def extracted_filter(call: ToolCall) -> ExtractedFilter | None:
    """`extracted` field values of kit `kit`, checked against the kit: its fields, scalar values."""
    wanted, kit_name = call.args.get("extracted"), call.args.get("kit")
    if not wanted:
        return None
    if not kit_name:
        raise ToolInputError("extracted filters name fields of a kit: pass kit too, e.g. support-call-qa.")
    if len(wanted) > MAX_EXTRACTED_FILTERS:
        raise ToolInputError(f"extracted takes at most {MAX_EXTRACTED_FILTERS} fields at once.")
    kit = chosen_kit(call)
    unknown = sorted(set(wanted) - set(kit.fields))
    if unknown:
        raise ToolInputError(
            f"Kit {kit.name} has no field {quoted(unknown[0])}. Its fields: {', '.join(sorted(kit.fields))}."
        )
    for field, value in wanted.items():
        if not isinstance(value, str | int | float | bool):
            raise ToolInputError(f"extracted.{field} must be a string, number or boolean to match.")
    from aai_mcp.state.archive_search import ExtractedFilter  # SQL-backed: loaded on first use

    return ExtractedFilter(kit.name, tuple(sorted(wanted.items())))


def _epoch(value: Any, name: str) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ToolInputError(f"{name} is not an ISO 8601 date or time, e.g. 2026-01-31.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
