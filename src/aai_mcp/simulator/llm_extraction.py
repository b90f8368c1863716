"""Structured answers to extraction-shaped schemas (every property an object of value, evidence and
confidence): plausible and deterministic, each value drawn from the transcript sentence that shares
the most words with the field's name and description, and each quote copied verbatim from it, so an
end-to-end extraction over the simulator has evidence that really is in the transcript. A field no
sentence speaks to gets the neutral answer the kits ask for (an empty list, false, "unclear"), with
no evidence and a low confidence."""

from __future__ import annotations

import hashlib
import re
from typing import Any

WRAPPED = frozenset({"value", "evidence", "confidence"})
TRANSCRIPT_BLOCK = re.compile(r"<transcript[^>]*>\n?(.*?)\n?</transcript>", re.DOTALL)
LINE_PREFIX = re.compile(r"^\[[0-9:]+\]\s*(?:Speaker [^:]{1,20}:\s*)?")
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
WORD = re.compile(r"[a-z]{4,}")
# Words every field description or call shares, which say nothing about a field.
COMMON = frozenset(
    "customer call calls calling when that this with from what were does said each item empty true "
    "short your about after their them they have been will would could should".split()
)
NEUTRAL_CONFIDENCE = 0.2
QUOTE_WORDS = 12


def is_extraction_schema(schema: Any) -> bool:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or not properties:
        return False
    return all(
        isinstance(field, dict) and set(field.get("properties") or {}) == WRAPPED
        for field in properties.values()
    )


def transcript_sentences(messages: list[dict[str, Any]]) -> list[str]:
    """The sentences of the transcript in the last user message (inside <transcript> when marked),
    without the [mm:ss] Speaker X: prefixes of its lines."""
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    block = TRANSCRIPT_BLOCK.search(str(user))
    body = block.group(1) if block else str(user)
    sentences: list[str] = []
    for line in body.splitlines():
        text = LINE_PREFIX.sub("", line).strip()
        sentences.extend(piece for piece in SENTENCE_END.split(text) if piece.strip())
    return sentences


def extraction_answer(schema: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    sentences = transcript_sentences(messages)
    return {
        name: field_answer(name, field["properties"], sentences)
        for name, field in schema["properties"].items()
    }


def field_answer(name: str, wrapped: dict[str, Any], sentences: list[str]) -> dict[str, Any]:
    value_schema = wrapped.get("value") or {}
    sentence, score = best_sentence(f"{name} {value_schema.get('description', '')}", sentences)
    if score == 0:
        return {"value": neutral_value(value_schema), "evidence": [], "confidence": NEUTRAL_CONFIDENCE}
    seed = int(hashlib.sha256(f"{name}|{sentence}".encode()).hexdigest()[:8], 16)
    return {
        "value": plausible_value(value_schema, sentence, seed),
        "evidence": [{"quote": " ".join(sentence.split()[:QUOTE_WORDS])}],
        "confidence": round(0.55 + (seed % 40) / 100, 2),
    }


def best_sentence(topic: str, sentences: list[str]) -> tuple[str, int]:
    """The sentence sharing the most 4+-letter words with `topic` (the first on a tie), and how many."""
    wanted = set(WORD.findall(topic.lower().replace("_", " "))) - COMMON
    best, best_score = (sentences[0], 0) if sentences else ("", 0)
    for sentence in sentences:
        score = len(wanted & set(WORD.findall(sentence.lower())))
        if score > best_score:
            best, best_score = sentence, score
    return best, best_score


def plausible_value(schema: dict[str, Any], sentence: str, seed: int) -> Any:
    options = [option for option in schema.get("enum") or [] if option != "unclear"]
    if options:
        return options[seed % len(options)]
    kind = kind_of(schema)
    if kind == "string":
        return sentence[: int(schema.get("maxLength", 300))]
    if kind == "array":
        item = schema.get("items") or {}
        return [sentence[: int(item.get("maxLength", 200))]]
    if kind == "boolean":
        return True
    return neutral_value(schema)


def neutral_value(schema: dict[str, Any]) -> Any:
    options = schema.get("enum") or []
    if options:
        return "unclear" if "unclear" in options else options[0]
    neutral: dict[str, Any] = {"string": "", "array": [], "boolean": False, "object": {}}
    kind = kind_of(schema)
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    return neutral.get(str(kind))


def kind_of(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    return kind[0] if isinstance(kind, list) and kind else kind
