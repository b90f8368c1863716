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
_COLUMNS = "t.transcript_id, t.created_at, t.status, t.upstream_deleted, t.utterances, t.words, "
# Only the caller's account's rows; the other filters are off when their parameter is NULL.
_FILTERS = (
    "t.account = :account AND (CAST(:status AS TEXT) IS NULL OR t.status = :status) "
    "AND (CAST(:since AS DOUBLE PRECISION) IS NULL OR t.created_at >= :since) "
    "AND (CAST(:until AS DOUBLE PRECISION) IS NULL OR t.created_at < :until)"
)
_SQLITE_QUERY = (
    f"SELECT {_COLUMNS}"
    "snippet(archived_transcripts_fts, 0, '[', ']', ' … ', 16) AS snippet, "
    # bm25 shrinks with relevance: negated, so rank grows with relevance on both engines.
    "-bm25(archived_transcripts_fts) AS rank "
    "FROM archived_transcripts_fts JOIN archived_transcripts t ON t.seq = archived_transcripts_fts.rowid "
    f"WHERE archived_transcripts_fts MATCH :match AND {_FILTERS}{{extracted}} "
    "ORDER BY rank DESC, t.transcript_id LIMIT :limit OFFSET :offset"
)
_POSTGRES_QUERY = (
    f"SELECT {_COLUMNS}"
    "ts_headline('english', coalesce(t.text, ''), q, "
    "'StartSel=[, StopSel=], MaxWords=24, MinWords=8, MaxFragments=2, "
    'FragmentDelimiter=" … "\') AS snippet, '
    "ts_rank(t.search_vector, q) AS rank "
    "FROM archived_transcripts t, plainto_tsquery('english', :match) q "
    f"WHERE t.search_vector @@ q AND {_FILTERS}{{extracted}} "
    "ORDER BY rank DESC, t.transcript_id LIMIT :limit OFFSET :offset"
)


Scalar = str | int | float | bool


@dataclass(frozen=True)
class ExtractedFilter:
    """Only transcripts whose stored result of `kit` (extraction_results) has each field's value: a
    list field matches when it holds the value; strings compare case-insensitively, booleans and
    numbers by type and value. Field names are the kit's (checked by the caller), bound as data."""

    kit: str
    values: tuple[tuple[str, Scalar], ...]


@dataclass(frozen=True)
class SearchFilters:
    """Which rows a search may return: always one account's; optionally by status, created time
    (epoch seconds, `until` excluded) and the speaker of the utterances that hold the words."""

    account: str
    status: str | None = None
    since: float | None = None
    until: float | None = None
    speaker: str | None = None
    extracted: ExtractedFilter | None = None


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
    status: str = "completed"
    upstream_deleted: bool = False


def query_words(query: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(query)][:MAX_QUERY_WORDS]


def search_transcripts(
    connection: sa.Connection, query: str, limit: int, filters: SearchFilters, offset: int = 0
) -> list[SearchHit]:
    """One page of hits (rows `offset` to `offset + limit` of the ranking). A speaker filter keeps the
    hits with an utterance of that speaker holding the words, so a page may come back shorter."""
    words = query_words(query)
    if not words:
        return []
    params = {
        "account": filters.account,
        "status": filters.status,
        "since": filters.since,
        "until": filters.until,
        "limit": limit,
        "offset": offset,
    }
    postgres = connection.dialect.name == "postgresql"
    clause, extracted_params = _extracted_clause(filters.extracted, postgres)
    params.update(extracted_params)
    if postgres:
        statement = sa.text(_POSTGRES_QUERY.format(extracted=clause))
        rows = connection.execute(statement, {**params, "match": " ".join(words)})
    else:
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = connection.execute(sa.text(_SQLITE_QUERY.format(extracted=clause)), {**params, "match": match})
    hits = [_hit(row, words, filters.speaker) for row in rows]
    return [hit for hit in hits if filters.speaker is None or hit.spans]


def _extracted_clause(extracted: ExtractedFilter | None, postgres: bool) -> tuple[str, dict[str, Any]]:
    """The SQL (and its parameters) keeping the transcripts whose stored result matches `extracted`."""
    if extracted is None:
        return "", {}
    params: dict[str, Any] = {"x_kit": extracted.kit}
    conditions = []
    for index, (field, value) in enumerate(extracted.values):
        params[f"x_f{index}"] = field if postgres else f'$."{field}".value'
        params[f"x_v{index}"] = value.lower() if isinstance(value, str) else value
        conditions.append(_field_condition(index, value, postgres))
    return (
        " AND EXISTS (SELECT 1 FROM extraction_results er WHERE er.transcript_id = t.transcript_id "
        "AND er.account = t.account AND er.kit = :x_kit" + "".join(f" AND {c}" for c in conditions) + ")",
        params,
    )


def _field_condition(index: int, value: Scalar, postgres: bool) -> str:
    """One field holds `value` (or is it): each element of a list, or the scalar itself, compared."""
    v = f":x_v{index}"
    if postgres:
        element = "e.v"
        found = f"er.fields::jsonb -> :x_f{index} -> 'value'"
        source = (
            f"jsonb_array_elements(CASE WHEN jsonb_typeof({found}) = 'array' THEN {found} "
            f"ELSE jsonb_build_array({found}) END) AS e(v)"
        )
        if isinstance(value, bool):
            test = f"{element} = to_jsonb(CAST({v} AS BOOLEAN))"
        elif isinstance(value, int | float):
            test = f"jsonb_typeof({element}) = 'number' AND CAST({element} #>> '{{}}' AS NUMERIC) = {v}"
        else:
            test = f"jsonb_typeof({element}) = 'string' AND lower({element} #>> '{{}}') = {v}"
        return f"EXISTS (SELECT 1 FROM {source} WHERE {test})"
    # SQLite's json_each walks a list's elements, or yields a scalar once; `type` tells true from 1.
    if isinstance(value, bool):
        test = f"j.type = '{'true' if value else 'false'}'"
    elif isinstance(value, int | float):
        test = f"j.type IN ('integer', 'real') AND j.value = {v}"
    else:
        test = f"j.type = 'text' AND lower(j.value) = {v}"
    return f"EXISTS (SELECT 1 FROM json_each(er.fields, :x_f{index}) AS j WHERE {test})"


def _hit(row: sa.Row[Any], words: list[str], speaker: str | None) -> SearchHit:
    utterances = _decoded(row.utterances)
    if speaker is not None:
        utterances = [u for u in utterances if str(u.get("speaker")) == speaker]
        spans = _utterance_spans(utterances, words)
    else:
        spans = _utterance_spans(utterances, words) if utterances else _word_spans(_decoded(row.words), words)
    return SearchHit(
        row.transcript_id,
        row.snippet,
        float(row.rank),
        row.created_at,
        spans,
        status=str(row.status),
        upstream_deleted=bool(row.upstream_deleted),
    )


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
