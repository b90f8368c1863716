"""Checking a quoted piece of evidence against the transcript it claims to come from.

A quote is found when its words appear in the transcript consecutively, compared after folding case
(Unicode casefold, NFKC) and treating every punctuation mark as a space: "I'm charged twice!" matches
"i'm charged twice," but not "charged two times". Nothing else is forgiven (no stemming, no skipped
words), so a paraphrase is never passed off as a quote. A found quote gets the start of its first word
and the end of its last (ms) when the transcript has word timings.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    spaced = "".join(" " if unicodedata.category(char).startswith("P") else char for char in folded)
    return spaced.split()


@dataclass(frozen=True)
class Located:
    """Where a quote was found: times in ms, None when the transcript has no word timings."""

    start: int | None
    end: int | None
    speaker: str | None = None


class QuoteIndex:
    """A transcript's words as normalised tokens, each remembering the word it came from."""

    def __init__(self, text: str, words: Sequence[dict[str, Any]] | None) -> None:
        self.words = list(words or [])
        self.sequence: list[tuple[str, int]] = []
        if self.words:
            for index, word in enumerate(self.words):
                self.sequence.extend((token, index) for token in tokens(str(word.get("text") or "")))
        else:
            self.sequence = [(token, -1) for token in tokens(text)]
        self._starts: dict[str, list[int]] = {}
        for position, (token, _) in enumerate(self.sequence):
            self._starts.setdefault(token, []).append(position)

    def find(self, quote: str) -> Located | None:
        """Where `quote` first occurs; None when it does not (or has no words at all)."""
        wanted = tokens(quote)
        if not wanted:
            return None
        size = len(wanted)
        for position in self._starts.get(wanted[0], []):
            window = self.sequence[position : position + size]
            if [token for token, _ in window] == wanted:
                return self._located(window[0][1], window[-1][1])
        return None

    def _located(self, first: int, last: int) -> Located:
        if first < 0:
            return Located(None, None)
        start, end = self.words[first], self.words[last]
        speaker = start.get("speaker")
        return Located(
            _ms(start.get("start")), _ms(end.get("end")), speaker if isinstance(speaker, str) else None
        )


def _ms(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def checked_evidence(index: QuoteIndex, quotes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each quote with `verified` and, when found, its start/end (ms) and speaker; a quote not found
    keeps its text, marked `verified: false`, with no times."""
    checked = []
    for item in quotes:
        quote = str(item.get("quote") or "")
        found = index.find(quote)
        entry: dict[str, Any] = {"quote": quote, "verified": found is not None}
        if found is not None:
            entry.update(start=found.start, end=found.end, speaker=found.speaker)
        checked.append(entry)
    return checked
