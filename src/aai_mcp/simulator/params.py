"""Validation of the `POST /v2/transcript` body, with upstream-style 400 messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PII_POLICIES = frozenset(
    "account_number banking_information blood_type credit_card_cvv credit_card_expiration "
    "credit_card_number date date_interval date_of_birth drivers_license drug duration "
    "email_address event filename gender_sexuality healthcare_number injury ip_address language "
    "location marital_status medical_condition medical_process money_amount nationality "
    "number_sequence occupation organization passport_number password person_age person_name "
    "phone_number physical_attribute political_affiliation religion statistics time url "
    "us_social_security_number username vehicle_id zodiac_sign".split()
    # The SDK 1.8.2's policy list (types.py:326-530, PIIRedactionPolicy = EntityType) adds these.
    + "gender sexuality organization_medical_facility location_address location_address_street "
    "location_city location_coordinate location_country location_state location_zip corporate_action "
    "day effect financial_metric medical_code month organization_id product project trend year".split()
)

BOOLEAN_FIELDS = frozenset(
    "auto_chapters auto_highlights content_safety custom_topics disfluencies entity_detection "
    "filter_profanity format_text iab_categories language_detection multichannel punctuate "
    "redact_pii redact_pii_audio sentiment_analysis speaker_labels summarization "
    "redact_pii_return_unredacted".split()
)
INTEGER_FIELDS = frozenset({"audio_end_at", "audio_start_from", "content_safety_confidence"})
NULLABLE_INTEGER_FIELDS = frozenset({"speakers_expected"})
NUMBER_FIELDS = frozenset({"language_confidence_threshold", "temperature"})
NULLABLE_NUMBER_FIELDS = frozenset({"speech_threshold"})
STRING_FIELDS = frozenset({"audio_url", "prompt", "webhook_url"})
NULLABLE_STRING_FIELDS = frozenset(
    {"webhook_auth_header_name", "webhook_auth_header_value", "speech_model", "language_code", "domain"}
)
STRING_LIST_FIELDS = frozenset({"keyterms_prompt", "speech_models", "topics", "redact_pii_policies"})
NULLABLE_STRING_LIST_FIELDS = frozenset({"language_codes"})
OBJECT_FIELDS = frozenset(
    {"language_detection_options", "redact_pii_audio_options", "speaker_options", "speech_understanding"}
    | {"keyterms_prompt_options"}
)
ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "redact_pii_audio_quality": ("mp3", "wav"),
    "redact_pii_sub": ("entity_name", "hash"),
    "summary_model": ("informative", "conversational", "catchy"),
    "summary_type": ("bullets", "bullets_verbose", "gist", "headline", "paragraph"),
    "remove_audio_tags": ("all",),
}
NULLABLE_ENUM_FIELDS = frozenset({"redact_pii_sub", "remove_audio_tags"})
RANGES: dict[str, tuple[float, float]] = {
    "content_safety_confidence": (25, 100),
    "language_confidence_threshold": (0, 1),
    "speech_threshold": (0, 1),
    "temperature": (0, 1),
}
UNDERSTANDING_FEATURES = ("translation", "speaker_identification", "custom_formatting", "summarization")

KNOWN_FIELDS = (
    BOOLEAN_FIELDS
    | INTEGER_FIELDS
    | NULLABLE_INTEGER_FIELDS
    | NUMBER_FIELDS
    | NULLABLE_NUMBER_FIELDS
    | STRING_FIELDS
    | NULLABLE_STRING_FIELDS
    | STRING_LIST_FIELDS
    | NULLABLE_STRING_LIST_FIELDS
    | OBJECT_FIELDS
    | frozenset(ENUM_FIELDS)
    | {"custom_spelling"}
)


class ParamError(ValueError):
    """An invalid request body; the message is what upstream would put in `error`."""


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def type_checks() -> list[tuple[frozenset[str], Callable[[Any], bool], str, bool]]:
    """(fields, predicate, noun for the message, null allowed)."""
    return [
        (BOOLEAN_FIELDS, lambda v: isinstance(v, bool), "a Boolean", False),
        (INTEGER_FIELDS, is_int, "an Integer", False),
        (NULLABLE_INTEGER_FIELDS, is_int, "an Integer", True),
        (NUMBER_FIELDS, is_number, "a Number", False),
        (NULLABLE_NUMBER_FIELDS, is_number, "a Number", True),
        (STRING_FIELDS, lambda v: isinstance(v, str), "a String", False),
        (NULLABLE_STRING_FIELDS, lambda v: isinstance(v, str), "a String", True),
        (STRING_LIST_FIELDS, is_string_list, "an Array of Strings", False),
        (NULLABLE_STRING_LIST_FIELDS, is_string_list, "an Array of Strings", True),
        (OBJECT_FIELDS, lambda v: isinstance(v, dict), "an Object", False),
    ]


def check_types(body: dict[str, Any]) -> None:
    for fields, predicate, noun, nullable in type_checks():
        for name in sorted(fields & body.keys()):
            value = body[name]
            if value is None and nullable:
                continue
            if not predicate(value):
                raise ParamError(f"{name} must be {noun}")


def check_enums_and_ranges(body: dict[str, Any]) -> None:
    for name, allowed in ENUM_FIELDS.items():
        if name not in body or (body[name] is None and name in NULLABLE_ENUM_FIELDS):
            continue
        if body[name] not in allowed:
            raise ParamError(f"{name} must be one of: {', '.join(allowed)}")
    for name, (low, high) in RANGES.items():
        value = body.get(name)
        if value is not None and not low <= value <= high:
            raise ParamError(f"{name} must be between {low:g} and {high:g}")
    unknown = [p for p in body.get("redact_pii_policies") or [] if p not in PII_POLICIES]
    if unknown:
        raise ParamError(f"redact_pii_policies contains an unknown policy: {unknown[0]}")


def check_custom_spelling(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise ParamError("custom_spelling must be an Array")
    for entry in value:
        if not isinstance(entry, dict) or not is_string_list(entry.get("from")):
            raise ParamError("custom_spelling entries need 'from' as an Array of Strings")
        if not isinstance(entry.get("to"), str):
            raise ParamError("custom_spelling entries need 'to' as a String")


def understanding_feature(speech_understanding: dict[str, Any], field: str) -> str:
    """The single feature named in `speech_understanding.request`."""
    request = speech_understanding.get("request")
    if not isinstance(request, dict):
        raise ParamError(f"{field}.request is required and must be an Object")
    named = [f for f in UNDERSTANDING_FEATURES if f in request]
    if len(named) != 1:
        raise ParamError(f"{field}.request must contain exactly one of: {', '.join(UNDERSTANDING_FEATURES)}")
    if not isinstance(request[named[0]], dict):
        raise ParamError(f"{field}.request.{named[0]} must be an Object")
    return named[0]


def check_required(body: dict[str, Any]) -> None:
    if "audio_url" not in body or body["audio_url"] in (None, ""):
        raise ParamError("audio_url is required")
    if "speech_models" not in body or body["speech_models"] is None:
        raise ParamError(
            'speech_models is required: list one or more models, e.g. ["universal-3-pro", "universal-2"]'
        )


def validate_transcript_params(body: Any) -> dict[str, Any]:
    """The known, validated request fields; unknown fields are ignored, not echoed."""
    if not isinstance(body, dict):
        raise ParamError("Request body must be a JSON object")
    check_required(body)
    check_types(body)
    if not body["speech_models"]:
        raise ParamError("speech_models must contain at least one model")
    check_enums_and_ranges(body)
    check_custom_spelling(body.get("custom_spelling"))
    if "speech_understanding" in body:
        understanding_feature(body["speech_understanding"], "speech_understanding")
    if body.get("redact_pii_audio") and not body.get("redact_pii"):
        raise ParamError("redact_pii_audio requires redact_pii to be enabled")
    if body.get("redact_pii_return_unredacted") and not body.get("redact_pii"):
        raise ParamError("redact_pii_return_unredacted requires redact_pii to be enabled")
    return {k: v for k, v in body.items() if k in KNOWN_FIELDS}
