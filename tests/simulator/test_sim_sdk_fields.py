"""The simulator takes the request fields of the SDK 1.8.2 and returns the response fields they enable
(ENDPOINTS-SDK-2026-10.md §6), and only then."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

NEW_FIELDS = ("metadata", "language_detection_results", "unredacted_text", "unredacted_words")


async def test_plain_transcripts_have_none_of_the_new_fields(sim: Harness) -> None:
    done = await sim.completed()
    assert not set(NEW_FIELDS) & set(done)


async def test_domain_is_reported_as_the_domain_used(sim: Harness) -> None:
    done = await sim.completed(
        domain="medical-v1", keyterms_prompt_options={"keyterms_match_strength": "high"}
    )
    assert done["metadata"] == {"domain_used": "medical-v1"}


async def test_code_switching_returns_the_languages_found(sim: Harness) -> None:
    options = {"code_switching": True, "expected_languages": ["en", "de"], "swiss_german": True}
    done = await sim.completed(language_detection=True, language_detection_options=options)
    languages = done["language_detection_results"]["code_switching_languages"]
    assert [item["language_code"] for item in languages] == ["en", "de"]
    assert all(0 < item["confidence"] < 1 for item in languages)


async def test_return_unredacted_keeps_what_redaction_replaced(sim: Harness) -> None:
    done = await sim.completed(
        redact_pii=True, redact_pii_policies=["person_name", "gender"], redact_pii_return_unredacted=True
    )
    assert "#" in done["text"] or "[" in done["text"], done["text"]
    assert done["unredacted_text"] != done["text"]
    assert len(done["unredacted_words"]) == len(done["words"])


async def test_return_unredacted_needs_redact_pii(sim: Harness) -> None:
    response = await sim.client.post(
        "/v2/transcript",
        json={
            "audio_url": "https://example.com/a.mp3",
            "speech_models": ["universal-3-pro"],
            "redact_pii_return_unredacted": True,
        },
    )
    assert response.status_code == 400
    assert "redact_pii_return_unredacted requires redact_pii" in response.json()["error"]


async def test_deleting_drops_the_unredacted_copy(sim: Harness) -> None:
    done = await sim.completed(
        redact_pii=True, redact_pii_policies=["person_name"], redact_pii_return_unredacted=True
    )
    assert (await sim.client.delete(f"/v2/transcript/{done['id']}")).status_code == 200
    after = (await sim.client.get(f"/v2/transcript/{done['id']}")).json()
    assert not {"unredacted_text", "unredacted_words", "unredacted_utterances"} & set(after)


@pytest.mark.parametrize("kind", ["bullets", "paragraph"])
async def test_summarization_through_speech_understanding(sim: Harness, kind: str) -> None:
    request = {"summarization": {"summary_type": kind, "headline_length": 5, "effort": "medium"}}
    done = await sim.completed(speaker_labels=True, speech_understanding={"request": request})
    result = done["speech_understanding"]["response"]["summarization"]
    assert (result["status"], result["summary_type"], result["effort"]) == ("completed", kind, "medium")
    section = result["summary"][0]
    assert len(section["headline"].split()) <= 5 and section["start"] < section["end"]
    assert ("text" in section) == (kind == "paragraph") and ("bullets" in section) == (kind == "bullets")


@pytest.mark.parametrize(
    ("summarization", "message"),
    [
        ({"summary_type": "gist"}, "summary_type must be one of"),
        ({"summary_type": "bullets", "headline_length": 40}, "5 to 15"),
    ],
)
async def test_summarization_options_are_checked(
    sim: Harness, summarization: dict[str, object], message: str
) -> None:
    response = await sim.client.post(
        "/v2/transcript",
        json={
            "audio_url": "https://example.com/a.mp3",
            "speech_models": ["universal-3-pro"],
            "speech_understanding": {"request": {"summarization": summarization}},
        },
    )
    assert response.status_code == 400 and message in response.json()["error"]
