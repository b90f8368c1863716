"""Full-text search over the archive, per engine: SQLite FTS5 (bm25, snippet) or PostgreSQL
(tsvector, ts_rank, ts_headline). Both match transcripts holding every word of the query, stemmed;
the words are passed as data, never as the engine's query syntax (a quote or NEAR in a query is text).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

MAX_QUERY_WORDS = 16
MAX_HIT_SPANS = 5
_WORD = re.compile(r"\w+", re.UNICODE)
_SQLITE_QUERY = sa.text(
    "SELECT t.transcript_id, t.created_at, t.utterances, t.words, "
    "snippet(archived_transcripts_fts, 0, '[', ']', ' … ', 16) AS snippet, "
    "bm25(archived_transcripts_fts) AS rank "
    "FROM archived_transcripts_fts JOIN archived_transcripts t ON t.seq = archived_transcripts_fts.rowid "
    "WHERE archived_transcripts_fts MATCH :match ORDER BY rank, t.transcript_id LIMIT :limit"
)
# ts_rank grows with relevance (bm25 shrinks), so the two orderings agree: best first.
_POSTGRES_QUERY = sa.text(
    "SELECT t.transcript_id, t.created_at, t.utterances, t.words, "
    "ts_headline('english', coalesce(t.text, ''), q, "
    "'StartSel=[, StopSel=], MaxWords=24, MinWords=8, MaxFragments=2, "
    'FragmentDelimiter=" … "\') AS snippet, '
    "ts_rank(t.search_vector, q) AS rank "
    "FROM archived_transcripts t, plainto_tsquery('english', :match) q "
    "WHERE t.search_vector @@ q ORDER BY rank DESC, t.transcript_id LIMIT :limit"
)


@dataclass(frozen=True)
class HitSpan:
    """Where in the audio the query's words are: an utterance (or a word when there are none)."""

    start: int
    end: int
    speaker: str | None
    text: str


@dataclass(frozen=True)
class SearchHit:
    transcript_id: str
    snippet: str
    rank: float
    created_at: float | None
    spans: tuple[HitSpan, ...]


def query_words(query: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(query)][:MAX_QUERY_WORDS]


def search_transcripts(connection: sa.Connection, query: str, limit: int) -> list[SearchHit]:
    words = query_words(query)
    if not words:
        return []
    if connection.dialect.name == "postgresql":
        rows = connection.execute(_POSTGRES_QUERY, {"match": " ".join(words), "limit": limit})
    else:
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = connection.execute(_SQLITE_QUERY, {"match": match, "limit": limit})
    return [_hit(row, words) for row in rows]


def _hit(row: sa.Row[Any], words: list[str]) -> SearchHit:
    utterances = _decoded(row.utterances)
    spans = _utterance_spans(utterances, words) if utterances else _word_spans(_decoded(row.words), words)
    return SearchHit(row.transcript_id, row.snippet, float(row.rank), row.created_at, spans)


def _decoded(value: Any) -> list[dict[str, Any]]:
    # The raw text() query hands back SQLite's JSON as a string; the JSON type decodes it.
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, list) else []


def _matches(text: str, words: list[str]) -> bool:
    # Stemmed search finds "refunds" for "refund"; a shared stem of the word is enough here.
    found = {w.lower() for w in _WORD.findall(text)}
    return any(any(f.startswith(_stem(w)) for f in found) for w in words)


def _stem(word: str) -> str:
    return word[: max(3, len(word) - 2)] if len(word) > 4 else word


def _utterance_spans(utterances: list[dict[str, Any]], words: list[str]) -> tuple[HitSpan, ...]:
    hits = [u for u in utterances if _matches(str(u.get("text", "")), words)]
    return tuple(
        HitSpan(int(u["start"]), int(u["end"]), u.get("speaker"), str(u["text"]))
        for u in hits[:MAX_HIT_SPANS]
    )


def _word_spans(all_words: list[dict[str, Any]], words: list[str]) -> tuple[HitSpan, ...]:
    hits = [w for w in all_words if _matches(str(w.get("text", "")), words)]
    return tuple(
        HitSpan(int(w["start"]), int(w["end"]), w.get("speaker"), str(w["text"]))
        for w in hits[:MAX_HIT_SPANS]
    )
