"""The v3 streaming parameters the SDK 1.8.2 adds are accepted by the simulator, and bad values are
refused (close 3006) as upstream would (streaming/v3/models.py:171-348)."""

from __future__ import annotations

import pytest

from aai_mcp.simulator.streaming_params import StreamParamError, StreamSettings, parse_connection

NEW_PARAMS = {
    "speech_model": "u3-rt-pro",
    "mode": "balanced",
    "voice_focus": "far-field",
    "voice_focus_threshold": "0.4",
    "domain": "medical-v1",
    "language_codes": '["en", "es"]',
    "speaker_labels_revision_interval_ms": "500",
    "interruption_delay": "200",
    "turn_left_pad_ms": "120",
    "redact_pii": "True",  # the Python SDK's spelling of a boolean
    "redact_pii_policies": '["person_name", "gender"]',
    "redact_pii_sub": "entity_name",
    "session_heartbeat": "true",
    "acknowledge_silence": "false",
    "continuous_partials": "true",
    "include_partial_turns": "true",
}


def test_every_new_parameter_is_accepted() -> None:
    settings = parse_connection({"sample_rate": "16000", **NEW_PARAMS})
    assert settings == StreamSettings(speech_model="u3-rt-pro")


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("mode", "fastest", "mode must be one of"),
        ("voice_focus", "mid-field", "voice_focus must be one of"),
        ("voice_focus_threshold", "2", "between 0 and 1"),
        ("domain", "legal-v1", "domain must be one of"),
        ("language_codes", "en,es", "JSON array of strings"),
        ("speaker_labels_revision_interval_ms", "-1", "between 0 and"),
        ("session_heartbeat", "yes", "must be a boolean"),
        ("redact_pii_sub", "mask", "redact_pii_sub must be one of"),
    ],
)
def test_a_bad_new_parameter_is_refused(name: str, raw: str, message: str) -> None:
    with pytest.raises(StreamParamError, match=message):
        parse_connection({"sample_rate": "16000", name: raw})
