"""Deterministic words and utterances for a transcript, derived from its id."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from .script import SUPPORT_CALL

TOKEN_RE = re.compile(r"\{(\w+):([^}]*)\}([^\s{]*)|(\S+)")
TRAILING_PUNCT_RE = re.compile(r"^(.*?)([.,?!]*)$")
TRAILING_SILENCE_MS = 1000


@dataclass(frozen=True)
class ContentOptions:
    """Transcript flags that change what the words look like."""

    speaker_labels: bool = False
    multichannel: bool = False
    punctuate: bool = True
    format_text: bool = True
    redact_policies: frozenset[str] = frozenset()
    redact_sub: str = "hash"

    @property
    def with_utterances(self) -> bool:
        return self.speaker_labels or self.multichannel


@dataclass(frozen=True)
class Token:
    core: str
    trailing: str
    entity: str | None


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int
    confidence: float
    speaker: str
    entity: str | None
    spoken: str  # the unredacted text, so entity search still works after redaction

    def to_json(self, options: ContentOptions) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "confidence": self.confidence,
            "speaker": self.speaker if options.speaker_labels else None,
        }
        if options.multichannel:
            out["channel"] = channel_of(self.speaker)
        return out


def channel_of(speaker: str) -> str:
    return str(ord(speaker) - ord("A") + 1)


@dataclass(frozen=True)
class Utterance:
    speaker: str
    sentiment: str
    words: tuple[Word, ...]
    first_index: int

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def start(self) -> int:
        return self.words[0].start

    @property
    def end(self) -> int:
        return self.words[-1].end

    @property
    def confidence(self) -> float:
        return mean_confidence(self.words)

    def to_json(self, options: ContentOptions) -> dict[str, Any]:
        out: dict[str, Any] = {
            "confidence": self.confidence,
            "end": self.end,
            "speaker": self.speaker,
            "start": self.start,
            "text": self.text,
            "words": [w.to_json(options) for w in self.words],
        }
        if options.multichannel:
            out["channel"] = channel_of(self.speaker)
        return out


def mean_confidence(words: tuple[Word, ...] | list[Word]) -> float:
    if not words:
        return 0.0
    return round(sum(w.confidence for w in words) / len(words), 5)


@dataclass(frozen=True)
class CallContent:
    utterances: tuple[Utterance, ...]
    options: ContentOptions
    audio_ms: int | None = None
    """The real length of the audio, when known; every timestamp is within it."""

    @cached_property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for u in self.utterances for w in u.words)

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances)

    @property
    def confidence(self) -> float:
        return mean_confidence(self.words)

    @property
    def audio_duration(self) -> int:
        """Whole seconds, rounded up: of the real audio when known, else of the scripted call with a
        little trailing silence like real recordings."""
        length = self.audio_ms if self.audio_ms is not None else self.words[-1].end + TRAILING_SILENCE_MS
        return (length + 999) // 1000

    def words_json(self) -> list[dict[str, Any]]:
        return [w.to_json(self.options) for w in self.words]

    def utterances_json(self) -> list[dict[str, Any]] | None:
        if not self.options.with_utterances:
            return None
        return [u.to_json(self.options) for u in self.utterances]


def parse_line(text: str) -> list[Token]:
    tokens: list[Token] = []
    for match in TOKEN_RE.finditer(text):
        entity, value, trailing, plain = match.groups()
        if plain is not None:
            core, punct = split_trailing(plain)
            tokens.append(Token(core, punct, None))
            continue
        parts = value.split()
        for i, part in enumerate(parts):
            tokens.append(Token(part, trailing if i == len(parts) - 1 else "", entity))
    return tokens


def split_trailing(word: str) -> tuple[str, str]:
    match = TRAILING_PUNCT_RE.match(word)
    assert match is not None  # the pattern matches every string
    return match.group(1), match.group(2)


def render_token(token: Token, options: ContentOptions) -> str:
    core = token.core
    if token.entity is not None and token.entity in options.redact_policies:
        core = "#" * len(core) if options.redact_sub == "hash" else f"[{token.entity.upper()}]"
    elif not options.format_text:
        core = core.lower()
    trailing = token.trailing if options.punctuate else ""
    return core + trailing


def word_duration_ms(token: Token, rng: random.Random) -> int:
    letters = sum(ch.isalnum() for ch in token.core)
    return 110 + 48 * letters + rng.randint(0, 60)


def word_confidence(rng: random.Random) -> float:
    # A few words per call come out noticeably less certain, as in real ASR output.
    if rng.random() < 0.04:
        return round(rng.uniform(0.55, 0.8), 5)
    return round(rng.uniform(0.86, 0.99999), 5)


def build_call(transcript_id: str, options: ContentOptions, audio_ms: int | None = None) -> CallContent:
    """The support call with timings and confidences seeded by `transcript_id`, squeezed into
    `audio_ms` when the audio is shorter than the call (every word kept, so content is the same)."""
    call = scripted_call(transcript_id, options)
    scripted_ms = call.words[-1].end + TRAILING_SILENCE_MS
    if audio_ms is None or audio_ms >= scripted_ms:
        return replace(call, audio_ms=audio_ms)
    return replace(
        call, utterances=tuple(scaled(u, audio_ms, scripted_ms) for u in call.utterances), audio_ms=audio_ms
    )


def scaled(utterance: Utterance, numerator: int, denominator: int) -> Utterance:
    """`utterance` with every time multiplied by numerator/denominator (rounded down, order kept)."""
    words = tuple(
        replace(w, start=w.start * numerator // denominator, end=w.end * numerator // denominator)
        for w in utterance.words
    )
    return replace(utterance, words=words)


def scripted_call(transcript_id: str, options: ContentOptions) -> CallContent:
    rng = random.Random(transcript_id)
    clock_ms = 240 + rng.randint(0, 260)
    utterances: list[Utterance] = []
    index = 0
    for speaker, sentiment, line in SUPPORT_CALL:
        words: list[Word] = []
        for token in parse_line(line):
            duration = word_duration_ms(token, rng)
            words.append(
                Word(
                    text=render_token(token, options),
                    start=clock_ms,
                    end=clock_ms + duration,
                    confidence=word_confidence(rng),
                    speaker=speaker,
                    entity=token.entity,
                    spoken=token.core + token.trailing,
                )
            )
            clock_ms += duration + rng.randint(20, 120)
        utterances.append(Utterance(speaker, sentiment, tuple(words), index))
        index += len(words)
        clock_ms += rng.randint(450, 1200)
    return CallContent(tuple(utterances), options)
