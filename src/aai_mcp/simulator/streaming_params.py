"""Connection parameters and `UpdateConfiguration` fields of the v3 streaming WebSocket."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

# Bytes per sample of each encoding the simulator can time; opus/aac frames have no fixed size.
BYTES_PER_SAMPLE = {"pcm_s16le": 2, "pcm_mulaw": 1}
SPEECH_MODELS = frozenset(
    {
        "universal-streaming-english",
        "universal-streaming-multilingual",
        "whisper-rt",
        "u3-rt-pro",
        "u3-pro",
        "u3-rt-pro-beta-1",
        "universal-3-5-pro",
        "universal-3-6",
        "universal-3-6-pro",
    }
)
DEFAULT_SAMPLE_RATE = 16000
INACTIVITY_RANGE = (5, 3600)
MAX_SPEAKERS_RANGE = (1, 10)


class StreamParamError(ValueError):
    """A connection parameter or configuration field upstream would refuse (close 3006)."""


@dataclass(frozen=True)
class StreamSettings:
    """What a session was opened with; `UpdateConfiguration` replaces some fields mid-stream."""

    sample_rate: int = DEFAULT_SAMPLE_RATE
    encoding: str = "pcm_s16le"
    speech_model: str = "universal-streaming-english"
    format_turns: bool = False
    speaker_labels: bool = False
    language_detection: bool = False
    inactivity_timeout: int | None = None
    end_of_turn_confidence_threshold: float = 0.4
    min_turn_silence: int | None = None
    max_turn_silence: int | None = None
    keyterms_prompt: tuple[str, ...] = ()

    @property
    def bytes_per_ms(self) -> float:
        return BYTES_PER_SAMPLE[self.encoding] * self.sample_rate / 1000


def parse_bool(name: str, raw: str) -> bool:
    # The Python SDK sends `True`/`False` (plain urlencode of a bool), browsers send `true`.
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise StreamParamError(f"{name} must be a boolean")
    return lowered == "true"


def parse_int(name: str, raw: str, bounds: tuple[int, int] | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise StreamParamError(f"{name} must be an integer") from None
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise StreamParamError(f"{name} must be between {bounds[0]} and {bounds[1]}")
    return value


def parse_unit_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise StreamParamError(f"{name} must be a number") from None
    if not 0.0 <= value <= 1.0:
        raise StreamParamError(f"{name} must be between 0 and 1")
    return value


def parse_terms(raw: str) -> tuple[str, ...]:
    try:
        terms = json.loads(raw)
    except ValueError:
        raise StreamParamError("keyterms_prompt must be a JSON array of strings") from None
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise StreamParamError("keyterms_prompt must be a JSON array of strings")
    return tuple(terms)


def parse_string_list(name: str, raw: str) -> tuple[str, ...]:
    """A list the SDK JSON-encodes into the query (`language_codes=["en","es"]`)."""
    try:
        values = json.loads(raw)
    except ValueError:
        raise StreamParamError(f"{name} must be a JSON array of strings") from None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise StreamParamError(f"{name} must be a JSON array of strings")
    return tuple(values)


def parse_choice(name: str, raw: str, choices: frozenset[str] | Mapping[str, Any]) -> str:
    if raw not in choices:
        raise StreamParamError(f"{name} must be one of: {', '.join(sorted(choices))}")
    return raw


def parse_connection(query: Mapping[str, str]) -> StreamSettings:
    """The session settings from the upgrade's query; unknown names are ignored, as newer SDKs
    send parameters this simulator does not model."""
    fields: dict[str, Any] = {}
    for name, raw in query.items():
        if name in CONNECTION_PARSERS:
            fields[name] = CONNECTION_PARSERS[name](name, raw)
    for name in UNMODELLED:
        fields.pop(name, None)
    sample_rate = fields.get("sample_rate", DEFAULT_SAMPLE_RATE)
    if sample_rate <= 0:
        raise StreamParamError("sample_rate must be a positive integer")
    return StreamSettings(**fields)


CONNECTION_PARSERS: dict[str, Any] = {
    "sample_rate": parse_int,
    "encoding": lambda name, raw: parse_choice(name, raw, BYTES_PER_SAMPLE),
    "speech_model": lambda name, raw: parse_choice(name, raw, SPEECH_MODELS),
    "format_turns": parse_bool,
    "speaker_labels": parse_bool,
    "language_detection": parse_bool,
    "inactivity_timeout": lambda name, raw: parse_int(name, raw, INACTIVITY_RANGE),
    "end_of_turn_confidence_threshold": parse_unit_float,
    "min_turn_silence": parse_int,
    "max_turn_silence": parse_int,
    "max_speakers": lambda name, raw: parse_int(name, raw, MAX_SPEAKERS_RANGE),
    "keyterms_prompt": lambda name, raw: parse_terms(raw),
}
# The parameters the SDK 1.8.2 adds (streaming/v3/models.py:171-348; ENDPOINTS-SDK-2026-10.md §5),
# checked as upstream would but without an effect on the simulated turns.
SDK_PARSERS: dict[str, Any] = {
    "mode": lambda name, raw: parse_choice(name, raw, frozenset({"max_accuracy", "min_latency", "balanced"})),
    "voice_focus": lambda name, raw: parse_choice(name, raw, frozenset({"near-field", "far-field"})),
    "voice_focus_threshold": parse_unit_float,
    "domain": lambda name, raw: parse_choice(name, raw, frozenset({"medical-v1"})),
    "redact_pii_sub": lambda name, raw: parse_choice(name, raw, frozenset({"hash", "entity_name"})),
    "speaker_labels_revision_interval_ms": lambda name, raw: parse_int(name, raw, (0, 2**31 - 1)),
    "interruption_delay": parse_int,
    "turn_left_pad_ms": parse_int,
    "language_codes": lambda name, raw: parse_string_list(name, raw),
    "redact_pii_policies": lambda name, raw: parse_string_list(name, raw),
    **dict.fromkeys(
        (
            "redact_pii",
            "session_heartbeat",
            "acknowledge_silence",
            "continuous_partials",
            "include_partial_turns",
            "customer_support_audio_capture",
            "filter_profanity",
        ),
        parse_bool,
    ),
}
CONNECTION_PARSERS.update(SDK_PARSERS)
# Accepted and validated but not modelled: not a StreamSettings field.
UNMODELLED = frozenset({"max_speakers", *SDK_PARSERS})


def updated(settings: StreamSettings, message: Mapping[str, Any]) -> StreamSettings:
    """`settings` after an `UpdateConfiguration`; `None` values are "leave as is" (the SDK drops
    them, other clients may not)."""
    changes: dict[str, Any] = {}
    for name, value in message.items():
        if name == "type" or value is None:
            continue
        if name not in UPDATABLE:
            continue  # newer fields (prompt, mode, ...) are accepted and ignored
        changes[name] = UPDATABLE[name](name, value)
    return replace(settings, **changes)


def update_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise StreamParamError(f"{name} must be a boolean")
    return value


def update_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StreamParamError(f"{name} must be an integer")
    return value


def update_unit_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise StreamParamError(f"{name} must be a number between 0 and 1")
    return float(value)


def update_terms(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise StreamParamError(f"{name} must be an array of strings")
    return tuple(value)


UPDATABLE: dict[str, Any] = {
    "format_turns": update_bool,
    "end_of_turn_confidence_threshold": update_unit_float,
    "min_turn_silence": update_int,
    "max_turn_silence": update_int,
    "keyterms_prompt": update_terms,
}
