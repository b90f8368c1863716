"""Sentences, paragraphs, subtitles, word search and redacted audio of a transcript."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

SRT_BLOCK = re.compile(r"^(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)$")
VTT_CUE = re.compile(r"^(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d)\.(\d{3})\n(.+)$")


async def view(sim: Harness, transcript_id: str, name: str, **params: Any) -> Any:
    response = await sim.client.get(f"/v2/transcript/{transcript_id}/{name}", params=params)
    assert response.status_code == 200, response.text
    return response


def ms(hours: str, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


async def test_sentences_cover_the_words(sim: Harness) -> None:
    done = await sim.completed(speaker_labels=True)
    body = (await view(sim, done["id"], "sentences")).json()
    assert set(body) == {"id", "confidence", "audio_duration", "sentences"}
    sentences = body["sentences"]
    assert sum(len(s["words"]) for s in sentences) == len(done["words"])
    assert sentences[0]["text"].endswith(".") and sentences[0]["speaker"] == "A"
    assert all(s["text"][-1] in ".?!" for s in sentences)
    assert " ".join(s["text"] for s in sentences) == done["text"]


async def test_sentences_without_speaker_labels_have_null_speaker(sim: Harness) -> None:
    done = await sim.completed()
    sentences = (await view(sim, done["id"], "sentences")).json()["sentences"]
    assert all(s["speaker"] is None for s in sentences)


async def test_paragraphs_are_speaker_turns(sim: Harness) -> None:
    done = await sim.completed(speaker_labels=True)
    body = (await view(sim, done["id"], "paragraphs")).json()
    assert [p["text"] for p in body["paragraphs"]] == [u["text"] for u in done["utterances"]]
    assert body["audio_duration"] == done["audio_duration"]


async def test_srt_is_valid_and_served_as_text_html(sim: Harness) -> None:
    done = await sim.completed()
    response = await view(sim, done["id"], "srt", chars_per_caption=32)
    assert response.headers["content-type"].startswith("text/html")
    blocks = response.text.strip("\n").split("\n\n")
    previous_end = -1
    texts = []
    for number, block in enumerate(blocks, start=1):
        match = SRT_BLOCK.match(block)
        assert match, block
        assert int(match.group(1)) == number
        start, end = ms(*match.group(2, 3, 4, 5)), ms(*match.group(6, 7, 8, 9))
        assert previous_end <= start < end
        previous_end = end
        assert len(match.group(10)) <= 32 or " " not in match.group(10)
        texts.append(match.group(10))
    assert " ".join(texts) == done["text"]


async def test_vtt_is_valid_and_served_as_text_html(sim: Harness) -> None:
    done = await sim.completed()
    response = await view(sim, done["id"], "vtt")
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("WEBVTT\n\n")
    cues = response.text[len("WEBVTT\n\n") :].strip("\n").split("\n\n")
    assert len(cues) > 10
    for cue in cues:
        match = VTT_CUE.match(cue)
        assert match, cue
        assert len(match.group(7)) <= 80


async def test_chars_per_caption_must_be_a_positive_integer(sim: Harness) -> None:
    done = await sim.completed()
    for bad in ("x", "0"):
        response = await sim.client.get(f"/v2/transcript/{done['id']}/srt", params={"chars_per_caption": bad})
        assert response.status_code == 400


async def test_word_search_indexes_point_at_matching_words(sim: Harness) -> None:
    done = await sim.completed()
    body = (await view(sim, done["id"], "word-search", words="refund,overdraft fee,Supervisor,zebra")).json()
    matches = {m["text"]: m for m in body["matches"]}
    words = done["words"]
    refund = matches["refund"]
    assert refund["count"] == len(refund["indexes"]) == len(refund["timestamps"]) > 0
    for index, (start, end) in zip(refund["indexes"], refund["timestamps"], strict=True):
        assert words[index]["text"].lower().strip(".,?!") == "refund"
        assert [words[index]["start"], words[index]["end"]] == [start, end]
    fee = matches["overdraft fee"]
    for index in fee["indexes"]:
        assert [w["text"].lower().strip(".,") for w in words[index : index + 2]] == ["overdraft", "fee"]
    assert matches["supervisor"]["count"] >= 2
    assert matches["zebra"] == {"text": "zebra", "count": 0, "timestamps": [], "indexes": []}
    assert body["total_count"] == sum(m["count"] for m in body["matches"])


async def test_word_search_needs_words_and_short_phrases(sim: Harness) -> None:
    done = await sim.completed()
    path = f"/v2/transcript/{done['id']}/word-search"
    assert (await sim.client.get(path)).status_code == 400
    too_long = await sim.client.get(path, params={"words": "one two three four five six"})
    assert too_long.status_code == 400


@pytest.mark.parametrize("name", ["sentences", "paragraphs", "srt", "vtt", "word-search?words=refund"])
async def test_views_need_a_completed_transcript(sim: Harness, name: str) -> None:
    created = await sim.create()
    response = await sim.client.get(f"/v2/transcript/{created['id']}/{name}")
    assert response.status_code == 400
    assert "not completed" in response.json()["error"]


async def test_views_of_unknown_transcripts_are_404(sim: Harness) -> None:
    response = await sim.client.get("/v2/transcript/00000000-0000-4000-8000-000000000000/sentences")
    assert response.status_code == 404


async def test_redacted_audio(sim: Harness) -> None:
    created = await sim.create(redact_pii=True, redact_pii_policies=["person_name"], redact_pii_audio=True)
    pending = await sim.client.get(f"/v2/transcript/{created['id']}/redacted-audio")
    assert pending.status_code == 202
    sim.clock.advance(3)
    ready = (await view(sim, created["id"], "redacted-audio")).json()
    assert ready["status"] == "redacted_audio_ready"
    assert ready["redacted_audio_url"].startswith("https://") and ".mp3?" in ready["redacted_audio_url"]


async def test_redacted_audio_needs_redact_pii_audio(sim: Harness) -> None:
    done = await sim.completed()
    response = await sim.client.get(f"/v2/transcript/{done['id']}/redacted-audio")
    assert response.status_code == 400
    assert "redact_pii_audio" in response.json()["error"]


async def test_unknown_subtitle_format_is_404(sim: Harness) -> None:
    done = await sim.completed()
    assert (await sim.client.get(f"/v2/transcript/{done['id']}/txt")).status_code == 404
