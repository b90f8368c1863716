"""Evidence quotes are checked against the transcript's words: found verbatim (case and punctuation
folded) they get the times of their first and last word; anything else is flagged, never passed off."""

from __future__ import annotations

from aai_mcp.extraction.evidence import QuoteIndex, checked_evidence, tokens

WORDS = [
    {"text": "Hi", "start": 0, "end": 200, "speaker": "B"},
    {"text": "Sam.", "start": 210, "end": 500, "speaker": "B"},
    {"text": "I'm", "start": 600, "end": 800, "speaker": "B"},
    {"text": "charged", "start": 810, "end": 1200, "speaker": "B"},
    {"text": "twice,", "start": 1210, "end": 1500, "speaker": "B"},
    {"text": "follow-up", "start": 1600, "end": 2000, "speaker": "A"},
    {"text": "today.", "start": 2010, "end": 2400, "speaker": "A"},
]
TEXT = "Hi Sam. I'm charged twice, follow-up today."


def test_tokens_fold_case_and_punctuation() -> None:
    assert tokens("  I’M   Charged\tTWICE!! ") == ["i", "m", "charged", "twice"]
    assert tokens("...") == []


def test_a_verbatim_quote_gets_the_times_of_its_first_and_last_word() -> None:
    index = QuoteIndex(TEXT, WORDS)
    found = index.find("i'm CHARGED twice")
    assert found is not None
    assert (found.start, found.end, found.speaker) == (600, 1500, "B")


def test_punctuation_inside_a_word_matches_either_way() -> None:
    index = QuoteIndex(TEXT, WORDS)
    found = index.find("twice follow up")
    assert found is not None and (found.start, found.end) == (1210, 2000)


def test_a_paraphrase_a_gap_or_an_empty_quote_is_not_found() -> None:
    index = QuoteIndex(TEXT, WORDS)
    assert index.find("charged two times") is None
    assert index.find("Hi I'm charged") is None  # skips a word
    assert index.find("charged twice and") is None  # runs past the end
    assert index.find(" ,. ") is None


def test_without_word_timings_the_text_is_searched_and_no_times_are_claimed() -> None:
    found = QuoteIndex(TEXT, None).find("sam i'm charged")
    assert found is not None and (found.start, found.end) == (None, None)


def test_checked_evidence_flags_what_is_not_in_the_transcript() -> None:
    checked = checked_evidence(QuoteIndex(TEXT, WORDS), [{"quote": "Sam."}, {"quote": "a full refund"}])
    assert checked == [
        {"quote": "Sam.", "verified": True, "start": 210, "end": 500, "speaker": "B"},
        {"quote": "a full refund", "verified": False},
    ]
