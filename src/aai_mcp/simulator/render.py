"""The JSON shapes of a transcript: the full object, the list item, and the deleted form."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .features import feature_results
from .jobs import DELETED_URL, TranscriptRecord
from .newer_fields import sdk_response_fields
from .understanding import run_understanding

# Request fields that the Transcript schema echoes back (its additionalProperties is false,
# so speaker_options, content_safety_confidence and the webhook secret are not echoed).
ECHO_DEFAULTS: dict[str, Any] = {
    "speech_model": None,
    "speech_models": None,
    "language_code": None,
    "language_codes": None,
    "language_detection": False,
    "language_detection_options": None,
    "language_confidence_threshold": None,
    "prompt": None,
    "keyterms_prompt": None,
    "temperature": None,
    "remove_audio_tags": None,
    "punctuate": True,
    "format_text": True,
    "disfluencies": False,
    "multichannel": False,
    "webhook_url": None,
    "webhook_auth_header_name": None,
    "auto_highlights": False,
    "audio_start_from": None,
    "audio_end_at": None,
    "filter_profanity": False,
    "redact_pii": False,
    "redact_pii_audio": False,
    "redact_pii_audio_quality": None,
    "redact_pii_audio_options": None,
    "redact_pii_policies": None,
    "redact_pii_sub": None,
    "speaker_labels": False,
    "speakers_expected": None,
    "content_safety": False,
    "iab_categories": False,
    "custom_spelling": None,
    "auto_chapters": False,
    "summarization": False,
    "summary_type": None,
    "summary_model": None,
    "custom_topics": False,
    "topics": [],
    "speech_threshold": None,
    "sentiment_analysis": False,
    "entity_detection": False,
    "speech_understanding": None,
}

RESULT_FIELDS = (
    "text",
    "words",
    "utterances",
    "confidence",
    "audio_duration",
    "auto_highlights_result",
    "content_safety_labels",
    "iab_categories_result",
    "sentiment_analysis_results",
    "entities",
    "chapters",
    "summary",
)


def timestamp(moment: datetime) -> str:
    """Upstream's list timestamps: microseconds, no timezone."""
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


def echoed_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {name: params.get(name, default) for name, default in ECHO_DEFAULTS.items()}
    if params.get("redact_pii"):
        out["redact_pii_sub"] = params.get("redact_pii_sub") or "hash"
    if params.get("redact_pii_audio"):
        out["redact_pii_audio_quality"] = params.get("redact_pii_audio_quality") or "mp3"
    if params.get("summarization"):
        out["summary_type"] = params.get("summary_type") or "bullets"
        out["summary_model"] = params.get("summary_model") or "informative"
    if out["language_code"] is None and not out["language_detection"]:
        out["language_code"] = "en_us"
    return out


def base_transcript(record: TranscriptRecord, status: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.transcript_id,
        "language_model": "assemblyai_default",
        "acoustic_model": "assemblyai_default",
        "status": status,
        "audio_url": record.audio_url,
        **echoed_params(record.params),
        "webhook_auth": bool(record.params.get("webhook_auth_header_name")),
        "webhook_status_code": record.webhook_status_code,
        "language_confidence": None,
        "speech_model_used": None,
        "throttled": None,
        "speed_boost": False,
        "error": None,
    }
    out.update(dict.fromkeys(RESULT_FIELDS))
    if record.params.get("multichannel"):
        out["audio_channels"] = 2
    return out


def completed_fields(record: TranscriptRecord) -> dict[str, Any]:
    content = record.content
    params = record.params
    out: dict[str, Any] = {
        "text": content.text,
        "words": content.words_json(),
        "utterances": content.utterances_json(),
        "confidence": content.confidence,
        "audio_duration": content.audio_duration,
        "speech_model_used": params["speech_models"][0],
        **feature_results(params, content),
    }
    if params.get("language_detection"):
        out["language_code"] = "en"
        out["language_confidence"] = 0.9959
    if params.get("speech_understanding"):
        out.update(understanding_fields(record))
    out.update(sdk_response_fields(params, content))
    return out


def understanding_fields(record: TranscriptRecord) -> dict[str, Any]:
    result = run_understanding(record.params["speech_understanding"], record.content)
    out: dict[str, Any] = {"speech_understanding": result["speech_understanding"]}
    if "translated_texts" in result:
        out["translated_texts"] = result["translated_texts"]
    if record.content.options.with_utterances and "utterances" in result:  # summarization has none
        out["utterances"] = result["utterances"]
    return out


def scrub(transcript: dict[str, Any]) -> dict[str, Any]:
    """What DELETE leaves behind: status and duration stay, content and URLs go."""
    scrubbed = {**transcript, **dict.fromkeys(RESULT_FIELDS)}
    scrubbed.update(
        {
            "audio_url": DELETED_URL,
            "webhook_url": DELETED_URL,
            "text": "Deleted by user.",
            "audio_duration": transcript.get("audio_duration"),
            "speech_understanding": None,
        }
    )
    for key in ("translated_texts", "unredacted_text", "unredacted_words", "unredacted_utterances"):
        scrubbed.pop(key, None)
    return scrubbed


def transcript_json(record: TranscriptRecord, status: str) -> dict[str, Any]:
    out = base_transcript(record, status)
    if status == "completed":
        out.update(completed_fields(record))
    elif status == "error":
        out["error"] = record.failure
        out["speech_model_used"] = None
    if record.deleted:
        out = scrub(out)
    return out


def transcript_body(record: TranscriptRecord, status: str) -> bytes:
    """`transcript_json` encoded as Starlette's JSONResponse encodes it. A finished transcript changes
    only when it is deleted or its webhook is answered, so its body is kept on the record and reused
    while those stay the same: rendering a 30 KB transcript's words cost 1.6 ms of the simulator's
    2.6 ms of CPU per GET, which the benchmarks' gateways would otherwise compete with for the cores."""
    state = (status, record.deleted, record.webhook_status_code)
    if record.rendered is not None and record.rendered[0] == state:
        return record.rendered[1]
    answer = transcript_json(record, status)
    body = json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    if status in ("completed", "error"):
        record.rendered = (state, body)
    return body


def list_item(record: TranscriptRecord, status: str, base_url: str, delay: float) -> dict[str, Any]:
    terminal = status in ("completed", "error")
    return {
        "id": record.transcript_id,
        "resource_url": f"{base_url}/v2/transcript/{record.transcript_id}",
        "status": status,
        "created": timestamp(record.created_wall),
        "completed": timestamp(record.completed_wall(delay)) if terminal else None,
        "audio_url": DELETED_URL if record.deleted else record.audio_url,
        "error": record.failure if status == "error" else None,
    }
