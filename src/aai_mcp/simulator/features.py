"""Results of the optional audio-intelligence features, computed from the call content."""

from __future__ import annotations

from typing import Any

from .captions import find_phrase, normalize, split_sentences
from .content import CallContent, Word, mean_confidence
from .script import CHAPTERS, KEY_PHRASES, SUMMARY_BULLETS, SUMMARY_PARAGRAPH, TOPIC_LABELS


def entity_spans(content: CallContent) -> list[tuple[str, list[Word]]]:
    """Runs of consecutive words that belong to the same entity."""
    spans: list[tuple[str, list[Word]]] = []
    for utterance in content.utterances:
        current: list[Word] = []
        for word in utterance.words:
            if current and word.entity != current[-1].entity:
                spans.append((current[-1].entity or "", current))
                current = []
            if word.entity is not None:
                current.append(word)
        if current:
            spans.append((current[-1].entity or "", current))
    return spans


def entities_json(content: CallContent) -> list[dict[str, Any]]:
    return [
        {
            "entity_type": entity,
            "text": " ".join(w.text for w in words).rstrip(".,?!"),
            "start": words[0].start,
            "end": words[-1].end,
        }
        for entity, words in entity_spans(content)
    ]


def highlights_json(content: CallContent) -> dict[str, Any]:
    found: list[tuple[str, list[int], int]] = []
    for phrase in KEY_PHRASES:
        parts = [normalize(p) for p in phrase.split()]
        hits = find_phrase(content.words, parts)
        if hits:
            found.append((phrase, hits, len(parts)))
    found.sort(key=lambda item: (-len(item[1]), item[0]))
    results = [
        {
            "count": len(hits),
            "rank": round(0.09 - 0.01 * position, 2),
            "text": phrase,
            "timestamps": [
                {"start": content.words[i].start, "end": content.words[i + size - 1].end} for i in hits
            ],
        }
        for position, (phrase, hits, size) in enumerate(found)
    ]
    return {"status": "success", "results": results}


def sentiment_json(content: CallContent) -> list[dict[str, Any]]:
    out = []
    for utterance in content.utterances:
        for words in split_sentences(utterance):
            out.append(
                {
                    "text": " ".join(w.text for w in words),
                    "start": words[0].start,
                    "end": words[-1].end,
                    "sentiment": utterance.sentiment,
                    "confidence": mean_confidence(words),
                    "speaker": utterance.speaker if content.options.speaker_labels else None,
                }
            )
    return out


def chapter_bounds(content: CallContent, first: int, last: int) -> tuple[int, int]:
    return content.utterances[first].start, content.utterances[last].end


def chapters_json(content: CallContent) -> list[dict[str, Any]]:
    chapters = []
    for first, last, headline, gist, summary in CHAPTERS:
        start, end = chapter_bounds(content, first, last)
        chapters.append({"summary": summary, "headline": headline, "gist": gist, "start": start, "end": end})
    return chapters


def topics_json(content: CallContent) -> dict[str, Any]:
    results = []
    for first, last, *_ in CHAPTERS:
        start, end = chapter_bounds(content, first, last)
        text = " ".join(u.text for u in content.utterances[first : last + 1])
        labels = [{"relevance": score, "label": label} for label, score in TOPIC_LABELS]
        results.append({"text": text, "labels": labels, "timestamp": {"start": start, "end": end}})
    return {"status": "success", "results": results, "summary": dict(TOPIC_LABELS)}


def content_safety_json() -> dict[str, Any]:
    # A billing dispute has nothing to moderate; upstream reports an empty success.
    return {"status": "success", "results": [], "summary": {}, "severity_score_summary": {}}


def summary_text(summary_type: str | None) -> str:
    if summary_type in ("paragraph", "gist", "headline"):
        return SUMMARY_PARAGRAPH if summary_type == "paragraph" else CHAPTERS[1][2]
    return SUMMARY_BULLETS


def feature_results(params: dict[str, Any], content: CallContent) -> dict[str, Any]:
    """The result fields of every feature the request switched on."""
    out: dict[str, Any] = {}
    if params.get("auto_highlights"):
        out["auto_highlights_result"] = highlights_json(content)
    if params.get("entity_detection"):
        out["entities"] = entities_json(content)
    if params.get("sentiment_analysis"):
        out["sentiment_analysis_results"] = sentiment_json(content)
    if params.get("auto_chapters"):
        out["chapters"] = chapters_json(content)
    if params.get("iab_categories"):
        out["iab_categories_result"] = topics_json(content)
    if params.get("content_safety"):
        out["content_safety_labels"] = content_safety_json()
    if params.get("summarization"):
        out["summary"] = summary_text(params.get("summary_type"))
    return out
