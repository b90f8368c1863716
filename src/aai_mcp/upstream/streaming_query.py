"""The v3 streaming WebSocket's connection parameters (`wss://streaming.assemblyai.com/v3/ws?...`), as
AssemblyAI checks them: one set of rules for the three places that see a session's query (the token
tool that builds a connection URL, the team proxy before it opens upstream, the simulator).

Sources: the 2026-03 AsyncAPI specs and the SDK 1.8.2's RealTimeParameters
(streaming/v3/models.py:171-348; ENDPOINTS-SDK-2026-10.md §5). Unknown names are let through by
`parsed_query`, as upstream lets newer SDKs' parameters through; `query_string` (the token tool)
refuses them, since there a name it does not know is a caller's typo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

Parser = Callable[[str, str], Any]

ENCODINGS = frozenset({"pcm_s16le", "pcm_mulaw", "opus", "ogg_opus", "aac"})
# Compressed encodings carry their own rate: the SDK needs no sample_rate with them (models.py:350-380).
COMPRESSED_ENCODINGS = frozenset({"opus", "ogg_opus", "aac"})
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
INACTIVITY_RANGE = (5, 3600)
MAX_SPEAKERS_RANGE = (1, 10)
MAX_TEXT = 10_000
# The SDK rewrites these before sending (streaming/v3/_base.py:74-118); a caller is pointed there.
RENAMED = {
    "min_end_of_turn_silence_when_confident": "min_turn_silence",
    "noise_suppression_model": "voice_focus",
    "noise_suppression_threshold": "voice_focus_threshold",
}


class StreamParamError(ValueError):
    """A connection parameter or configuration field upstream would refuse (close 3006)."""


def parse_bool(name: str, raw: str) -> bool:
    # The Python SDK sends `True`/`False` (plain urlencode of a bool), browsers send `true`.
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise StreamParamError(f"{name} must be a boolean")
    return lowered == "true"


def parse_int(name: str, raw: str, bounds: tuple[int, int] | None = None) -> int:
    # Digits only: Python's int() also takes " 16_000 ", which upstream refuses after the token is spent.
    if not re.fullmatch(r"-?[0-9]{1,18}", raw):
        raise StreamParamError(f"{name} must be an integer")
    value = int(raw)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise StreamParamError(f"{name} must be between {bounds[0]} and {bounds[1]}")
    return value


def parse_unit_float(name: str, raw: str) -> float:
    if not re.fullmatch(r"[0-9]*\.?[0-9]+", raw):  # not float()'s "nan", "1_0", " 0.5"
        raise StreamParamError(f"{name} must be a number")
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise StreamParamError(f"{name} must be between 0 and 1")
    return value


def parse_string_list(name: str, raw: str) -> tuple[str, ...]:
    """A list the SDK JSON-encodes into the query (`language_codes=["en","es"]`)."""
    try:
        values = json.loads(raw)
    except ValueError:
        raise StreamParamError(f"{name} must be a JSON array of strings") from None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise StreamParamError(f"{name} must be a JSON array of strings")
    return tuple(values)


def parse_text(name: str, raw: str) -> str:
    if len(raw) > MAX_TEXT:
        raise StreamParamError(f"{name} must be at most {MAX_TEXT} characters")
    return raw


def parse_object(name: str, raw: str) -> dict[str, Any]:
    """`llm_gateway`: a JSON object in the query (the SDK's json.dumps of a dict)."""
    try:
        value = json.loads(raw)
    except ValueError:
        raise StreamParamError(f"{name} must be a JSON object") from None
    if not isinstance(value, dict):
        raise StreamParamError(f"{name} must be a JSON object")
    return value


def choice(choices: Iterable[str]) -> Parser:
    allowed = frozenset(choices)

    def parse(name: str, raw: str) -> str:
        if raw not in allowed:
            raise StreamParamError(f"{name} must be one of: {', '.join(sorted(allowed))}")
        return raw

    return parse


def bounded(bounds: tuple[int, int]) -> Parser:
    return lambda name, raw: parse_int(name, raw, bounds)


def _positive_rate(name: str, raw: str) -> int:
    value = parse_int(name, raw)
    if value <= 0:
        raise StreamParamError("sample_rate must be a positive integer")
    return value


PARSERS: dict[str, Parser] = {
    "sample_rate": _positive_rate,
    "encoding": choice(ENCODINGS),
    "speech_model": choice(SPEECH_MODELS),
    "format_turns": parse_bool,
    "speaker_labels": parse_bool,
    "language_detection": parse_bool,
    "inactivity_timeout": bounded(INACTIVITY_RANGE),
    "end_of_turn_confidence_threshold": parse_unit_float,
    "min_turn_silence": parse_int,
    "max_turn_silence": parse_int,
    "max_speakers": bounded(MAX_SPEAKERS_RANGE),
    "keyterms_prompt": parse_string_list,
    "vad_threshold": parse_unit_float,
    "language_code": parse_text,
    "prompt": parse_text,
    "agent_context": parse_text,
    "webhook_url": parse_text,
    "webhook_auth_header_name": parse_text,
    "webhook_auth_header_value": parse_text,
    "llm_gateway": parse_object,
}
# The parameters the SDK 1.8.2 adds (streaming/v3/models.py:171-348; ENDPOINTS-SDK-2026-10.md §5).
SDK_PARSERS: dict[str, Parser] = {
    "mode": choice({"max_accuracy", "min_latency", "balanced"}),
    "voice_focus": choice({"near-field", "far-field"}),
    "voice_focus_threshold": parse_unit_float,
    "domain": choice({"medical-v1"}),
    "redact_pii_sub": choice({"hash", "entity_name"}),
    "speaker_labels_revision_interval_ms": bounded((0, 2**31 - 1)),
    "interruption_delay": parse_int,
    "turn_left_pad_ms": parse_int,
    "language_codes": parse_string_list,
    "redact_pii_policies": parse_string_list,
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
PARSERS.update(SDK_PARSERS)


def parsed_query(query: Mapping[str, str]) -> dict[str, Any]:
    """The known parameters of an upgrade's query, parsed; StreamParamError names the first bad one.
    Unknown names are left out, not refused (upstream ignores what it does not know)."""
    return {name: PARSERS[name](name, raw) for name, raw in query.items() if name in PARSERS}


def query_string(params: Mapping[str, Any]) -> str:
    """A connection query for `params` (JSON values, as a tool receives them), checked by the same
    rules: lists and objects JSON-encoded as the SDK sends them, booleans lowercase as browsers do."""
    wire: dict[str, str] = {}
    for name, value in params.items():
        if name in RENAMED:
            raise StreamParamError(f"{name} is deprecated: use {RENAMED[name]}")
        if name == "token":
            raise StreamParamError("token is added by the gateway, not passed as a parameter")
        if name not in PARSERS:
            raise StreamParamError(f"{name} is not a v3 streaming parameter")
        wire[name] = _wire_value(name, value)
    parsed_query(wire)
    return urlencode(wire)


def _wire_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, int | float | str):
        return str(value)
    raise StreamParamError(f"{name} must be a string, number, boolean, array or object")
