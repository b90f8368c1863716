"""Connection parameters and `UpdateConfiguration` fields of the v3 streaming WebSocket."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from aai_mcp.upstream.streaming_query import StreamParamError, parsed_query

__all__ = ["StreamParamError", "StreamSettings", "parse_connection", "updated"]

DEFAULT_SAMPLE_RATE = 16000


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


def parse_connection(query: Mapping[str, str]) -> StreamSettings:
    """The session settings from the upgrade's query, checked by upstream's rules
    (aai_mcp.upstream.streaming_query); unknown names are ignored, as newer SDKs send parameters
    this simulator does not model, and the known ones it does not model are checked only."""
    parsed = parsed_query(query)
    return StreamSettings(**{name: value for name, value in parsed.items() if name in MODELLED})


MODELLED = frozenset(field.name for field in fields(StreamSettings))


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
