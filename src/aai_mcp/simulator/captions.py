"""Views over a completed call: sentences, paragraphs, SRT/VTT subtitles and word search."""

from __future__ import annotations

import re
from typing import Any

from .content import CallContent, Utterance, Word, channel_of, mean_confidence

DEFAULT_CHARS_PER_CAPTION = 80
MAX_PHRASE_WORDS = 5
EDGE_PUNCT_RE = re.compile(r"^[^\w$#\[]+|[^\w\]]+$")


class ViewError(ValueError):
    """A request for a view that upstream answers with 400."""


def span_json(content: CallContent, words: list[Word]) -> dict[str, Any]:
    return {
        "text": " ".join(w.text for w in words),
        "start": words[0].start,
        "end": words[-1].end,
        "confidence": mean_confidence(words),
        "words": [w.to_json(content.options) for w in words],
    }


def split_sentences(utterance: Utterance) -> list[list[Word]]:
    """Sentence ends come from the spoken text, so they survive punctuate=false."""
    sentences: list[list[Word]] = []
    current: list[Word] = []
    for word in utterance.words:
        current.append(word)
        if word.spoken.endswith((".", "?", "!")):
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def sentences_json(content: CallContent) -> list[dict[str, Any]]:
    out = []
    for utterance in content.utterances:
        for words in split_sentences(utterance):
            item = span_json(content, words)
            item["speaker"] = utterance.speaker if content.options.speaker_labels else None
            if content.options.multichannel:
                item["channel"] = channel_of(utterance.speaker)
            out.append(item)
    return out


def paragraphs_json(content: CallContent) -> list[dict[str, Any]]:
    """One paragraph per speaker turn, the natural pause in a two-party call."""
    return [span_json(content, list(u.words)) for u in content.utterances]


def parse_chars_per_caption(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_CHARS_PER_CAPTION
    try:
        value = int(raw)
    except ValueError:
        raise ViewError("chars_per_caption must be an Integer") from None
    if value < 1:
        raise ViewError("chars_per_caption must be greater than 0")
    return value


def caption_groups(content: CallContent, chars_per_caption: int) -> list[list[Word]]:
    groups: list[list[Word]] = []
    for utterance in content.utterances:
        current: list[Word] = []
        length = 0
        for word in utterance.words:
            added = len(word.text) + (1 if current else 0)
            if current and length + added > chars_per_caption:
                groups.append(current)
                current, length, added = [], 0, len(word.text)
            current.append(word)
            length += added
        if current:
            groups.append(current)
    return groups


def srt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{millis:03d}"


def vtt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    prefix = f"{hours:02d}:" if hours else ""
    return f"{prefix}{minutes:02d}:{seconds:02d}.{millis:03d}"


def render_srt(content: CallContent, chars_per_caption: int) -> str:
    blocks = []
    for number, words in enumerate(caption_groups(content, chars_per_caption), start=1):
        text = " ".join(w.text for w in words)
        blocks.append(f"{number}\n{srt_time(words[0].start)} --> {srt_time(words[-1].end)}\n{text}\n")
    return "\n".join(blocks)


def render_vtt(content: CallContent, chars_per_caption: int) -> str:
    cues = []
    for words in caption_groups(content, chars_per_caption):
        text = " ".join(w.text for w in words)
        cues.append(f"{vtt_time(words[0].start)} --> {vtt_time(words[-1].end)}\n{text}\n")
    return "WEBVTT\n\n" + "\n".join(cues)


def normalize(text: str) -> str:
    return EDGE_PUNCT_RE.sub("", text.lower())


def parse_search_terms(raw: str | None) -> list[str]:
    terms = [t.strip() for t in (raw or "").split(",") if t.strip()]
    if not terms:
        raise ViewError("words is required: pass a comma-separated list, e.g. ?words=refund,supervisor")
    for term in terms:
        if len(term.split()) > MAX_PHRASE_WORDS:
            raise ViewError(f"Each phrase in words can have at most {MAX_PHRASE_WORDS} words: {term!r}")
    return terms


def find_phrase(words: tuple[Word, ...], phrase: list[str]) -> list[int]:
    normalized = [normalize(w.text) for w in words]
    size = len(phrase)
    return [i for i in range(len(words) - size + 1) if normalized[i : i + size] == phrase]


def word_search_json(content: CallContent, terms: list[str]) -> tuple[int, list[dict[str, Any]]]:
    """Matches per term; `indexes` holds the index of each occurrence's first word."""
    matches = []
    total = 0
    for term in terms:
        phrase = [normalize(part) for part in term.split()]
        hits = find_phrase(content.words, phrase)
        size = len(phrase)
        total += len(hits)
        matches.append(
            {
                "text": term.lower(),
                "count": len(hits),
                "timestamps": [[content.words[i].start, content.words[i + size - 1].end] for i in hits],
                "indexes": hits,
            }
        )
    return total, matches
