"""search and fetch over recent transcripts, in the shape ChatGPT connectors and deep research expect.

Upstream calls per `search` are bounded: at most MAX_LIST_PAGES list pages plus one word search
per listed transcript, and at most `settings.search_max_transcripts` transcripts are listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from aai_mcp.caller_input import ToolInputError
from aai_mcp.config.settings import Settings
from aai_mcp.mcp_server.handlers.archived_copies import archived_copy, iso_time
from aai_mcp.mcp_server.handlers.ask import DELETED_URL, gather_bounded, read_one, unusable
from aai_mcp.mcp_server.runtime.forward import send
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.mcp_server.views.answers import transcript_url
from aai_mcp.upstream import UpstreamError, decode_json
from aai_mcp.upstream.errors import ErrorKind
from aai_mcp.upstream.hosts import REGION_HOSTS

if TYPE_CHECKING:
    from aai_mcp.state.archive_search import SearchHit

LIST_PAGE_LIMIT = 200  # the spec's maximum `limit` for GET /v2/transcript
MAX_LIST_PAGES = 3  # settings cap search_max_transcripts at 200: one page, unless upstream pages short
MAX_WORDS = 10
PHRASE_MAX_WORDS = 5  # word search takes phrases of up to 5 words (ENDPOINTS.md §2 row 9)
EDGE_PUNCTUATION = ".,;:!?\"'()[]{}<>“”‘’"
SEARCH_CALLS = frozenset({"list", "word_search"})
FETCH_CALLS = frozenset({"read"})  # through ask's read_one
STOPWORDS = frozenset(
    "a an and are as at be but by did do does for from had has have how i in is it its of on or "
    "that the their there this to was we were what when where which who why will with you".split()
)


@dataclass(frozen=True)
class Terms:
    words: list[str]
    phrase: str | None
    """The whole query when it is 2-5 words: exact-phrase hits rank first."""

    def upstream(self) -> str:
        # Terms never hold commas, which upstream would read as separators.
        return ",".join(([self.phrase] if self.phrase else []) + self.words)

    def label(self) -> str:
        return ", ".join(f"'{word}'" for word in self.words)


@dataclass(frozen=True)
class Hit:
    transcript_id: str
    created: str
    phrase_count: int
    word_count: int


def search_terms(query: str) -> Terms:
    tokens = [word for raw in query.split() if (word := raw.strip(EDGE_PUNCTUATION).replace(",", "").lower())]
    if not tokens:
        raise ToolInputError(
            "query has no words to search for: give a word or a short phrase, "
            "e.g. 'refund' or 'overdraft fee'."
        )
    distinct = list(dict.fromkeys(tokens))
    words = [word for word in distinct if word not in STOPWORDS] or distinct
    phrase = " ".join(tokens) if 2 <= len(tokens) <= PHRASE_MAX_WORDS else None
    return Terms(words=words[:MAX_WORDS], phrase=phrase)


async def recent_completed(call: ToolCall) -> list[dict[str, Any]]:
    """The newest completed, not deleted transcripts, at most search_max_transcripts of them."""
    wanted = call.settings.search_max_transcripts
    found: list[dict[str, Any]] = []
    params = {"status": "completed"}
    for _ in range(MAX_LIST_PAGES):
        params["limit"] = str(min(LIST_PAGE_LIMIT, wanted - len(found)))
        try:
            page = decode_json(await send(call, "list", params=params))
        except UpstreamError as exc:
            raise exc.during("Listing recent transcripts failed") from None
        if not isinstance(page, dict):
            raise UpstreamError(
                "AssemblyAI sent a transcript list that is not an object.", kind=ErrorKind.BAD_RESPONSE
            )
        items = [item for item in page.get("transcripts") or [] if isinstance(item, dict) and item.get("id")]
        found += [item for item in items if item.get("audio_url") != DELETED_URL]
        if len(found) >= wanted or not items or not (page.get("page_details") or {}).get("prev_url"):
            break
        params["before_id"] = str(items[-1]["id"])
    return found[:wanted]


async def count_matches(call: ToolCall, item: dict[str, Any], terms: Terms) -> Hit | None:
    transcript_id = str(item["id"])
    try:
        response = await send(call, "word_search", transcript_id, params={"words": terms.upstream()})
        payload = decode_json(response)
    except UpstreamError as exc:
        if exc.status in (400, 404):  # deleted or gone since it was listed: nothing to find there
            return None
        raise exc.during(f"Searching transcript {transcript_id} failed") from None
    matches = payload.get("matches") if isinstance(payload, dict) else None
    phrase_count = word_count = 0
    for match in matches or []:
        count = int(match.get("count") or 0)
        if terms.phrase and str(match.get("text", "")).lower() == terms.phrase:
            phrase_count += count
        else:
            word_count += count
    if not phrase_count + word_count:
        return None
    return Hit(transcript_id, str(item.get("created") or ""), phrase_count, word_count)


def transcript_url_base(settings: Settings) -> str:
    """--transcript-url-base, else the region's REST address of a transcript (also when simulated:
    the in-process simulator has no address a person could open)."""
    return settings.transcript_url_base or f"{REGION_HOSTS[settings.region]['api']}/v2/transcript/"


def result(hit: Hit, terms: Terms, url_base: str) -> dict[str, str]:
    when = hit.created[:16].replace("T", " ") or "unknown date"
    matches = f"{hit.word_count} match{'' if hit.word_count == 1 else 'es'} for {terms.label()}"
    if hit.phrase_count:
        matches += f", {hit.phrase_count}× the phrase '{terms.phrase}'"
    return {
        "id": hit.transcript_id,
        "title": f"Transcript {hit.transcript_id} — {when} ({matches})",
        "url": transcript_url(url_base, hit.transcript_id),
    }


async def search(call: ToolCall) -> dict[str, Any]:
    """The archive's hits first (when the server has one: older than upstream keeps), then the recent
    transcripts' word-search hits it lacks, ranked by exact-phrase hits, then word hits, then recency."""
    query = str(call.args["query"])
    terms = search_terms(query)
    url_base = transcript_url_base(call.settings)
    archived = await archive_results(call, query, url_base)
    items = [item for item in await recent_completed(call) if str(item["id"]) not in archived]
    hits = await gather_bounded(items, lambda item: count_matches(call, item, terms))
    found = [hit for hit in hits if hit is not None]
    ranked = sorted(found, key=lambda hit: (-hit.phrase_count, -hit.word_count))
    return {"results": [*archived.values(), *(result(hit, terms, url_base) for hit in ranked)]}


async def archive_results(call: ToolCall, query: str, url_base: str) -> dict[str, dict[str, str]]:
    """The caller's account's archived transcripts matching `query`, best first, by id."""
    archive = call.archive
    if archive is None:
        return {}
    from aai_mcp.state.archive_search import SearchFilters  # SQL-backed: loaded on first use

    wanted, filters = call.settings.search_max_transcripts, SearchFilters(call.account)
    hits = await anyio.to_thread.run_sync(lambda: archive.search(query, wanted, filters))
    return {hit.transcript_id: archived_result(hit, url_base) for hit in hits}


def archived_result(hit: SearchHit, url_base: str) -> dict[str, str]:
    when = iso_time(hit.created_at) or "unknown date"
    kept = "archived; deleted upstream" if hit.upstream_deleted else "archived"
    return {
        "id": hit.transcript_id,
        "title": f"Transcript {hit.transcript_id} — {when[:16].replace('T', ' ')} ({kept}): {hit.snippet}",
        "url": transcript_url(url_base, hit.transcript_id),
    }


async def fetch(call: ToolCall) -> dict[str, Any]:
    """One completed transcript, from the archive when it holds it; the document view renders it."""
    transcript_id = str(call.args["id"])
    archived = await archived_copy(call.archive, call.account, transcript_id)
    transcript = archived or await read_one(call, transcript_id)
    problem = unusable(transcript_id, transcript)
    if problem:
        raise ToolInputError(problem)
    return transcript
