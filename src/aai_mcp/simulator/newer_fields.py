"""Transcript response fields the official SDK 1.8.2 (2026-10) reads that the 2026-03 spec lacks
(SDK types.py:2598-2714), each returned only when the request enabled it, as upstream does."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .content import CallContent, Word

# The second language a code-switching call is said to hold when expected_languages names none.
DEFAULT_SECOND_LANGUAGE = "es"


def sdk_response_fields(params: dict[str, Any], content: CallContent) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if params.get("domain"):
        out["metadata"] = {"domain_used": params["domain"]}
    detection = params.get("language_detection_options") or {}
    if params.get("language_detection") and detection.get("code_switching"):
        out["language_detection_results"] = {"code_switching_languages": code_switching(detection)}
    if params.get("redact_pii") and params.get("redact_pii_return_unredacted"):
        out.update(unredacted(content))
    return out


def code_switching(detection: dict[str, Any]) -> list[dict[str, Any]]:
    expected = [code for code in detection.get("expected_languages") or [] if code not in ("en", "all")]
    second = expected[0] if expected else DEFAULT_SECOND_LANGUAGE
    return [{"language_code": "en", "confidence": 0.8125}, {"language_code": second, "confidence": 0.1875}]


def unredacted(content: CallContent) -> dict[str, Any]:
    """The words as spoken, before PII redaction replaced them (Word.spoken keeps them)."""
    spoken = [replace(word, text=word.spoken) for word in content.words]
    out: dict[str, Any] = {
        "unredacted_text": " ".join(word.text for word in spoken),
        "unredacted_words": [word.to_json(content.options) for word in spoken],
    }
    if content.options.with_utterances:
        out["unredacted_utterances"] = [utterance_json(u.words, content) for u in content.utterances]
    return out


def utterance_json(words: tuple[Word, ...], content: CallContent) -> dict[str, Any]:
    spoken = [replace(word, text=word.spoken) for word in words]
    return {
        "text": " ".join(word.text for word in spoken),
        "start": spoken[0].start,
        "end": spoken[-1].end,
        "speaker": spoken[0].speaker,
        "words": [word.to_json(content.options) for word in spoken],
    }
