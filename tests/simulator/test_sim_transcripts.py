"""Creating, polling and deleting transcripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

SPEC = Path("/work/shared/reference/assemblyai/openapi.json")
MODELS = ["universal-3-pro", "universal-2"]


def transcript_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SPEC.read_text())["components"]["schemas"]["Transcript"]
    return schema


async def test_create_returns_a_full_queued_transcript(sim: Harness) -> None:
    created = await sim.create(speaker_labels=True, punctuate=False, webhook_url="https://example.com/hook")
    assert created["status"] == "queued"
    assert created["speaker_labels"] is True and created["punctuate"] is False
    assert created["webhook_url"] == "https://example.com/hook"
    assert created["speech_models"] == MODELS
    assert created["text"] is None and created["words"] is None and created["error"] is None
    if SPEC.exists():
        schema = transcript_schema()
        assert set(schema["required"]) <= created.keys()
        assert created.keys() <= schema["properties"].keys()


async def test_lifecycle_follows_the_injected_clock(sim: Harness) -> None:
    created = await sim.create()
    assert (await sim.get(created["id"]))["status"] == "queued"
    sim.clock.advance(1.1)  # past the first third of the 3 s delay
    assert (await sim.get(created["id"]))["status"] == "processing"
    sim.clock.advance(1.8)
    assert (await sim.get(created["id"]))["status"] == "processing"
    sim.clock.advance(0.2)
    done = await sim.get(created["id"])
    assert done["status"] == "completed"
    assert done["speech_model_used"] == "universal-3-pro"
    assert done["audio_duration"] == 1  # the harness uploads 0.5 s of WAV: whole seconds, rounded up
    assert "double charge" in done["text"] and "refund" in done["text"]
    assert 0 < done["confidence"] <= 1


async def test_words_and_utterances_follow_speaker_labels(sim: Harness) -> None:
    plain = await sim.completed()
    assert plain["utterances"] is None
    assert all(w["speaker"] is None for w in plain["words"])
    labelled = await sim.completed(speaker_labels=True)
    speakers = {u["speaker"] for u in labelled["utterances"]}
    assert speakers == {"A", "B"}
    assert len(labelled["utterances"]) >= 15
    first = labelled["utterances"][0]
    assert first["words"][0]["speaker"] == first["speaker"]
    assert " ".join(u["text"] for u in labelled["utterances"]) == labelled["text"]
    starts = [w["start"] for w in labelled["words"]]
    assert starts == sorted(starts)


async def test_content_is_stable_per_transcript_id(sim: Harness) -> None:
    done = await sim.completed()
    again = await sim.get(done["id"])
    assert again["words"] == done["words"]
    other = await sim.completed()
    assert other["text"] == done["text"]
    assert other["words"] != done["words"]  # timings and confidences vary by id


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"speech_models": MODELS}, "audio_url is required"),
        ({"audio_url": "https://example.com/a.mp3"}, "speech_models is required"),
        ({"audio_url": "https://example.com/a.mp3", "speech_models": []}, "speech_models must contain"),
        (
            {"audio_url": "https://example.com/a.mp3", "speech_models": MODELS, "format_text": "yes"},
            "format_text must be a Boolean",
        ),
        (
            {"audio_url": "https://example.com/a.mp3", "speech_models": MODELS, "audio_start_from": 1.5},
            "audio_start_from must be an Integer",
        ),
        (
            {
                "audio_url": "https://example.com/a.mp3",
                "speech_models": MODELS,
                "content_safety_confidence": 5,
            },
            "content_safety_confidence must be between 25 and 100",
        ),
        (
            {"audio_url": "https://example.com/a.mp3", "speech_models": MODELS, "redact_pii_sub": "mask"},
            "redact_pii_sub must be one of",
        ),
        ({"audio_url": "ftp://example.com/a.mp3", "speech_models": MODELS}, "audio_url"),
    ],
)
async def test_invalid_bodies_get_400_naming_the_field(
    sim: Harness, body: dict[str, Any], message: str
) -> None:
    response = await sim.client.post("/v2/transcript", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]


async def test_body_must_be_json(sim: Harness) -> None:
    response = await sim.client.post("/v2/transcript", content=b"audio_url=x")
    assert response.status_code == 400


async def test_unknown_upload_url_is_forbidden(sim: Harness) -> None:
    url = "https://cdn.assemblyai.com/upload/00000000-0000-4000-8000-000000000000"
    response = await sim.client.post("/v2/transcript", json={"audio_url": url, "speech_models": MODELS})
    assert response.status_code == 403
    assert response.json() == {"error": "Cannot access uploaded file"}


async def test_text_upload_ends_in_error(sim: Harness) -> None:
    url = await sim.upload(b"hello, this is a text file\n")
    created = await sim.create(url)
    sim.clock.advance(3)
    failed = await sim.get(created["id"])
    assert failed["status"] == "error"
    assert failed["error"] == "File does not appear to contain audio. File type is text/plain (ASCII text)."
    assert failed["text"] is None


@pytest.mark.parametrize(
    ("audio_url", "fragment"),
    [
        ("https://example.com/page.html", "File type is text/html"),
        ("https://example.com/notes.txt", "File type is text/plain"),
        (
            "https://media.invalid/call.mp3",
            "Download error, unable to download https://media.invalid/call.mp3",
        ),
    ],
)
async def test_unreadable_urls_end_in_error(sim: Harness, audio_url: str, fragment: str) -> None:
    created = await sim.create(audio_url)
    sim.clock.advance(3)
    failed = await sim.get(created["id"])
    assert failed["status"] == "error" and fragment in failed["error"]


async def test_other_remote_urls_complete(sim: Harness) -> None:
    created = await sim.create("https://example.com/calls/support.mp3")
    sim.clock.advance(3)
    assert (await sim.get(created["id"]))["status"] == "completed"


async def test_unknown_transcript_is_404(sim: Harness) -> None:
    for transcript_id in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        response = await sim.client.get(f"/v2/transcript/{transcript_id}")
        assert response.status_code == 404 and response.json() == {"error": "Not found"}


async def test_delete_scrubs_like_upstream(sim: Harness) -> None:
    done = await sim.completed(speaker_labels=True, webhook_url="https://example.com/hook")
    response = await sim.client.delete(f"/v2/transcript/{done['id']}")
    assert response.status_code == 200
    deleted = response.json()
    assert deleted["status"] == "completed"
    assert deleted["audio_url"] == "http://deleted_by_user"
    assert deleted["webhook_url"] == "http://deleted_by_user"
    assert deleted["text"] == "Deleted by user."
    assert deleted["words"] is None and deleted["utterances"] is None and deleted["confidence"] is None
    assert deleted["audio_duration"] == done["audio_duration"]
    assert (await sim.get(done["id"]))["text"] == "Deleted by user."


async def test_a_finished_transcripts_body_is_reused_until_it_is_deleted_or_its_webhook_answered(
    sim: Harness,
) -> None:
    done = await sim.completed()
    path = f"/v2/transcript/{done['id']}"
    record = sim.simulator.transcripts.get(done["id"])
    assert record is not None and record.rendered is not None  # kept by the GET in sim.completed
    first, again = await sim.client.get(path), await sim.client.get(path)
    assert first.content == again.content == record.rendered[1]
    assert first.headers["content-type"] == "application/json"
    assert json.loads(first.content) == done  # the same JSON Starlette's JSONResponse sent before
    record.webhook_status_code = 500  # as the webhook sender records a receiver's answer
    assert (await sim.get(done["id"]))["webhook_status_code"] == 500
    await sim.client.delete(path)
    assert (await sim.get(done["id"]))["text"] == "Deleted by user."


async def test_delete_removes_the_uploaded_file(sim: Harness) -> None:
    url = await sim.upload()
    created = await sim.create(url)
    sim.clock.advance(3)
    await sim.client.delete(f"/v2/transcript/{created['id']}")
    again = await sim.client.post("/v2/transcript", json={"audio_url": url, "speech_models": MODELS})
    assert again.status_code == 403


async def test_delete_while_processing_is_400(sim: Harness) -> None:
    created = await sim.create()
    response = await sim.client.delete(f"/v2/transcript/{created['id']}")
    assert response.status_code == 400
    assert "still processing" in response.json()["error"]


async def test_feature_results_appear_when_requested(sim: Harness) -> None:
    done = await sim.completed(
        entity_detection=True,
        auto_highlights=True,
        sentiment_analysis=True,
        auto_chapters=True,
        summarization=True,
        iab_categories=True,
        content_safety=True,
        language_detection=True,
    )
    assert any(e["entity_type"] == "money_amount" and e["text"] == "$89.99" for e in done["entities"])
    assert done["auto_highlights_result"]["results"][0]["text"] == "refund"
    assert {s["sentiment"] for s in done["sentiment_analysis_results"]} >= {"NEGATIVE", "POSITIVE"}
    assert len(done["chapters"]) == 3 and done["summary"].startswith("- ")
    assert done["iab_categories_result"]["status"] == "success"
    assert done["language_code"] == "en" and done["language_confidence"] > 0.9


async def test_pii_redaction_hides_the_chosen_entities(sim: Harness) -> None:
    done = await sim.completed(redact_pii=True, redact_pii_policies=["phone_number", "person_name"])
    assert "555-867-5309" not in done["text"] and "Maria" not in done["text"]
    assert "############" in done["text"]
    named = await sim.completed(
        redact_pii=True, redact_pii_policies=["email_address"], redact_pii_sub="entity_name"
    )
    assert "[EMAIL_ADDRESS]" in named["text"] and "Maria" in named["text"]
