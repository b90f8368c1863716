"""A past for the simulator: completed (and a few failed) transcripts created over the last days,
the same ones for the same seed, and AssemblyAI's retention: a transcript older than it is gone
(404, absent from the list)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from .jobs import TranscriptRecord, TranscriptStore

DAY_SECONDS = 86_400.0
FAILED_SHARE = 0.05
FAILURE = (
    "Download error, unable to download https://calls.example.com/history/missing.wav. "
    "Please make sure the file exists and is accessible from the internet."
)


@dataclass(frozen=True)
class HistoryPlan:
    """`count` transcripts created at random times over the last `days` days, from `seed`."""

    count: int
    days: float
    seed: int = 0

    def __post_init__(self) -> None:
        if self.count < 0 or self.days <= 0:
            raise ValueError("a history needs count >= 0 and days > 0")


def seed_history(
    transcripts: TranscriptStore, plan: HistoryPlan, wall_now: datetime, clock_now: float, delay: float
) -> list[TranscriptRecord]:
    """Add the plan's transcripts (all finished: each is older than the processing delay) and number
    every transcript of the store again by creation time, so the list's order stays newest first."""
    rng = random.Random(f"history-{plan.seed}")
    ages = sorted(
        (rng.uniform(delay + 1.0, plan.days * DAY_SECONDS) for _ in range(plan.count)), reverse=True
    )
    made = [_record(rng, index, age, wall_now, clock_now) for index, age in enumerate(ages)]
    for record in made:
        transcripts.add(record)
    transcripts.renumber()
    return made


def _record(
    rng: random.Random, index: int, age: float, wall_now: datetime, clock_now: float
) -> TranscriptRecord:
    transcript_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    params = {
        "audio_url": f"https://calls.example.com/history/{index:05d}.wav",
        "speech_models": ["universal"],
        "speaker_labels": rng.random() < 0.8,
        "language_code": "en_us",
    }
    return TranscriptRecord(
        transcript_id=transcript_id,
        sequence=0,
        params=params,
        created_clock=clock_now - age,
        created_wall=wall_now - timedelta(seconds=age),
        failure=FAILURE if rng.random() < FAILED_SHARE else None,
    )


def expired(record: TranscriptRecord, wall_now: datetime, retention_days: float | None) -> bool:
    """Older than the retention: AssemblyAI has deleted it."""
    if retention_days is None:
        return False
    return wall_now - record.created_wall > timedelta(days=retention_days)
