"""Speech Understanding: translation, speaker identification, custom formatting and summarization."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .content import CallContent, Word
from .features import entity_spans
from .params import ParamError, is_string_list, understanding_feature
from .script import CANONICAL_VALUES

# The docs disagree ("completed" in the spec examples, "success" in one guide); we say "completed".
DONE = "completed"
MAX_KNOWN_VALUE_CHARS = 35


def translate(text: str, language: str) -> str:
    """A stand-in translation: recognisable, deterministic, and clearly per language."""
    return f"[{language}] {text}"


def target_languages(options: dict[str, Any]) -> list[str]:
    languages = options.get("target_languages")
    if not is_string_list(languages) or not languages:
        raise ParamError("translation.target_languages must be a non-empty Array of Strings")
    return list(languages)


def translation_result(options: dict[str, Any], content: CallContent) -> dict[str, Any]:
    languages = target_languages(options)
    utterances = content_utterances(content)
    if options.get("match_original_utterance"):
        for utterance in utterances:
            utterance["translated_texts"] = {lang: translate(utterance["text"], lang) for lang in languages}
    return {
        "response": {"translation": {"status": DONE}},
        "translated_texts": {lang: translate(content.text, lang) for lang in languages},
        "utterances": utterances,
        "words": content.words_json(),
    }


def speaker_values(options: dict[str, Any]) -> list[str]:
    speaker_type = options.get("speaker_type")
    if speaker_type not in ("role", "name"):
        raise ParamError("speaker_identification.speaker_type must be one of: role, name")
    known = options.get("known_values")
    speakers = options.get("speakers")
    if known is not None:
        if not is_string_list(known) or not known:
            raise ParamError("speaker_identification.known_values must be a non-empty Array of Strings")
        if any(len(v) > MAX_KNOWN_VALUE_CHARS for v in known):
            raise ParamError(
                "speaker_identification.known_values entries must be at most "
                f"{MAX_KNOWN_VALUE_CHARS} characters"
            )
        return list(known)
    if isinstance(speakers, list) and speakers:
        return [str(s.get(speaker_type) or s.get("name") or s.get("role") or "") for s in speakers]
    raise ParamError("speaker_identification needs known_values or speakers")


def speaker_identification_result(options: dict[str, Any], content: CallContent) -> dict[str, Any]:
    values = speaker_values(options)
    labels = list(dict.fromkeys(u.speaker for u in content.utterances))
    mapping = {label: value for label, value in zip(labels, values, strict=False) if value}
    utterances = content_utterances(content)
    for utterance in utterances:
        utterance["speaker"] = mapping.get(utterance["speaker"], utterance["speaker"])
        for word in utterance["words"]:
            word["speaker"] = utterance["speaker"]
    words = [word for utterance in utterances for word in utterance["words"]]
    return {
        "response": {"speaker_identification": {"mapping": mapping, "status": DONE}},
        "utterances": utterances,
        "words": words,
    }


def format_date(iso: str, pattern: str) -> str:
    year, month, day = iso.split("-")
    parts = {"yyyy": year, "yy": year[2:], "mm": month, "dd": day}
    return re.sub("yyyy|yy|mm|dd", lambda m: parts[m.group(0)], pattern, flags=re.IGNORECASE)


def format_phone(digits: str, pattern: str) -> str:
    remaining = iter(digits)
    out = "".join(next(remaining, "") if ch.lower() == "x" else ch for ch in pattern)
    return out + "".join(remaining)


def spoken_text(words: list[Word]) -> str:
    return " ".join(w.spoken for w in words).rstrip(".,?!")


def formatting_mapping(options: dict[str, Any], content: CallContent) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for entity, words in entity_spans(content):
        original = spoken_text(words)
        if entity == "date" and options.get("date") and original in CANONICAL_VALUES:
            mapping[original] = format_date(CANONICAL_VALUES[original], str(options["date"]))
        elif entity == "phone_number" and options.get("phone_number") and original in CANONICAL_VALUES:
            mapping[original] = format_phone(CANONICAL_VALUES[original], str(options["phone_number"]))
        elif entity == "email_address" and options.get("email"):
            mapping[original] = original.lower()
    return mapping


def apply_mapping(text: str, mapping: dict[str, str]) -> str:
    for original, formatted in mapping.items():
        text = text.replace(original, formatted)
    return text


def custom_formatting_result(options: dict[str, Any], content: CallContent) -> dict[str, Any]:
    mapping = formatting_mapping(options, content)
    utterances = content_utterances(content)
    formatted = [{**u, "text": apply_mapping(u["text"], mapping)} for u in utterances]
    for item in formatted:
        item.pop("words", None)
    response = {
        "mapping": mapping,
        "formatted_text": apply_mapping(content.text, mapping),
        "formatted_utterances": formatted,
        "status": DONE,
    }
    return {"response": {"custom_formatting": response}, "utterances": utterances}


SUMMARY_TYPES = ("bullets", "paragraph")
HEADLINE_WORDS = (5, 15)


def summary_type(options: dict[str, Any]) -> str:
    """SummarizationRequest (SDK types.py:755-770): summary_type required, headline_length 5-15."""
    kind = options.get("summary_type")
    if kind not in SUMMARY_TYPES:
        raise ParamError("summarization.summary_type must be one of: bullets, paragraph")
    length = options.get("headline_length")
    if length is not None and not (
        isinstance(length, int) and HEADLINE_WORDS[0] <= length <= HEADLINE_WORDS[1]
    ):
        raise ParamError("summarization.headline_length must be an integer from 5 to 15")
    return str(kind)


def summarization_result(options: dict[str, Any], content: CallContent) -> dict[str, Any]:
    """One section per utterance: a headline of its first words, its text as a paragraph or a bullet."""
    kind = summary_type(options)
    words = int(options.get("headline_length") or 10)
    summary = []
    for utterance in content_utterances(content):
        section = {"start": utterance["start"], "end": utterance["end"]}
        section["headline"] = " ".join(utterance["text"].split()[:words])
        section["text" if kind == "paragraph" else "bullets"] = (
            utterance["text"] if kind == "paragraph" else [utterance["text"]]
        )
        summary.append(section)
    response = {"status": DONE, "summary": summary, "summary_type": kind}
    response["effort"] = options.get("effort") or "low"
    return {"response": {"summarization": response}}


def content_utterances(content: CallContent) -> list[dict[str, Any]]:
    """Utterances with speakers, whatever the transcript's own speaker_labels setting was."""
    labelled = CallContent(content.utterances, replace(content.options, speaker_labels=True))
    return labelled.utterances_json() or []


HANDLERS = {
    "translation": translation_result,
    "speaker_identification": speaker_identification_result,
    "custom_formatting": custom_formatting_result,
    "summarization": summarization_result,
}


OPTION_CHECKS = {
    "translation": target_languages,
    "speaker_identification": speaker_values,
    "summarization": summary_type,
}


def check_understanding(speech_understanding: dict[str, Any]) -> None:
    """Raise now what running the request would raise later, so a transcript create answers 400
    instead of every later read of the finished transcript failing."""
    feature = understanding_feature(speech_understanding, "speech_understanding")
    check = OPTION_CHECKS.get(feature)
    if check is not None:
        check(speech_understanding["request"][feature])


def run_understanding(speech_understanding: Any, content: CallContent) -> dict[str, Any]:
    """The `/v1/understanding` response body; also merged into transcripts that asked for it."""
    if not isinstance(speech_understanding, dict):
        raise ParamError("speech_understanding is required and must be an Object")
    feature = understanding_feature(speech_understanding, "speech_understanding")
    request = speech_understanding["request"]
    result = HANDLERS[feature](request[feature], content)
    response = result.pop("response")
    return {"speech_understanding": {"request": request, "response": response}, **result}
