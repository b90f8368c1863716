"""The transcript view shows the SDK 1.8.2 response fields an agent needs when the request enabled
them: the domain model used, code-switching languages, summarization results, the speech model."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.client import Client

from aai_mcp.config.settings import Settings
from tests.support import make_settings

pytestmark = pytest.mark.anyio
AUDIO_URL = "https://example.com/call.mp3"


@pytest.fixture
def settings() -> Settings:
    return make_settings(api_key=None)  # the built-in simulator


async def test_new_request_fields_reach_the_answer(client: Client) -> None:
    result = await client.call_tool(
        "transcribe",
        {
            "audio_url": AUDIO_URL,
            "domain": "medical-v1",
            "language_detection": True,
            "language_detection_options": {"code_switching": True, "expected_languages": ["en", "fr"]},
            "speaker_options": {"min_speakers_expected": 1, "short_file_diarization_method": "balanced"},
            "speaker_labels": True,
            "speech_understanding": {"request": {"summarization": {"summary_type": "bullets"}}},
            "timeout_seconds": 120,
        },
    )
    assert not result.is_error, result.content
    answer: dict[str, Any] = dict(result.structured_content or {})
    assert answer["status"] == "completed"
    assert answer["metadata"] == {"domain_used": "medical-v1"}
    languages = answer["language_detection_results"]["code_switching_languages"]
    assert [item["language_code"] for item in languages] == ["en", "fr"]
    summary = answer["speech_understanding"]["response"]["summarization"]
    assert summary["status"] == "completed" and summary["summary"][0]["bullets"]
    assert answer["speech_model_used"] == "universal-3-pro"


async def test_out_of_range_sdk_fields_are_refused_before_upstream(client: Client) -> None:
    result = await client.call_tool(
        "create_transcript",
        {
            "audio_url": AUDIO_URL,
            "speech_understanding": {"request": {"summarization": {"summary_type": "gist"}}},
        },
    )
    assert result.is_error
    assert "gist" in result.content[0].text  # type: ignore[union-attr]
