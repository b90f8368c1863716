"""Proof (issue 13 part 8, extraction): both shipped kits over a seeded archive, on SQLite and a real
PostgreSQL. Every stored result validates against its kit's schema, and every quote is verified and
really is in its transcript: re-checked here independently of the matcher, word for word, with the
start and end times of the words it spans."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator

from aai_mcp.extraction.kits import available_kits
from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
from aai_mcp.state.extraction_store import ExtractionStore, StoredExtraction
from aai_mcp.state.store_sql import SqlStore
from tests.support.extraction_runs import extract_archive, seeded_archive

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

HISTORY = 120
KITS = ("support-call-qa", "sales-call")
WORD = re.compile(r"\w+")


def plain(text: str) -> list[str]:
    """Lower-case runs of letters and digits: a second, independent way to compare words."""
    return WORD.findall(text.lower())


def assert_quotes_in_transcript(result: StoredExtraction, kept: ArchivedTranscript) -> int:
    words = kept.words or []
    spoken = [(token, word) for word in words for token in plain(str(word["text"]))]
    checked = 0
    for name, field in result.fields.items():
        for quote in field["evidence"]:
            assert quote["verified"], (result.transcript_id, name, quote)
            wanted = plain(quote["quote"])
            starts = [i for i in range(len(spoken)) if [t for t, _ in spoken[i : i + len(wanted)]] == wanted]
            assert starts, (result.transcript_id, name, quote["quote"])
            first, last = spoken[starts[0]][1], spoken[starts[0] + len(wanted) - 1][1]
            assert (quote["start"], quote["end"]) == (first["start"], last["end"])
            checked += 1
    return checked


async def test_both_shipped_kits_over_a_seeded_archive_validate_and_every_quote_is_found(
    store: SqlStore,
) -> None:
    archive = ArchiveStore(store.engine)
    seeded = seeded_archive(archive, HISTORY, seed=8)
    results = ExtractionStore(store.engine)
    total = len(results.archived_completed_ids())
    assert total >= HISTORY // 2
    for name in KITS:
        kit = available_kits()[name]
        counts, _ = await extract_archive(seeded, archive, name, concurrency=4)
        assert (counts.extracted, counts.refused, counts.unverified_quotes) == (total, [], 0)
        validator = Draft202012Validator(kit.schema())
        quotes = 0
        for result in results.for_kit(name):
            values = {field: answer["value"] for field, answer in result.fields.items()}
            assert list(validator.iter_errors(values)) == [], result.transcript_id
            kept = archive.get(result.transcript_id)
            assert kept is not None
            quotes += assert_quotes_in_transcript(result, kept)
        assert quotes == counts.verified_quotes >= total  # at least one quote per transcript
