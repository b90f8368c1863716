"""Deterministic `Turn` messages for a streaming session, derived from the audio received.

The support call's lines are spoken one after another, every word taking `WORD_MS` of audio,
one turn per line. So a test that sends N bytes knows exactly which words it gets back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .content import ContentOptions, Token, parse_line, render_token, word_confidence
from .script import SUPPORT_CALL
from .streaming_params import StreamSettings

WORD_MS = 300
SCRIPT_END_CONFIDENCE = 0.9  # above the default 0.4 threshold, so the end is believable
FORCED_END_CONFIDENCE = 1.0
PARTIAL_CONFIDENCE = 0.0
RAW = ContentOptions(punctuate=False, format_text=False)
FORMATTED = ContentOptions()
LINES: tuple[tuple[str, tuple[Token, ...]], ...] = tuple(
    (speaker, tuple(parse_line(text))) for speaker, _sentiment, text in SUPPORT_CALL
)


@dataclass(frozen=True)
class HeardWord:
    token: Token
    start: int
    end: int
    confidence: float

    def to_json(self, formatted: bool, final: bool = True) -> dict[str, Any]:
        text = render_token(self.token, FORMATTED if formatted else RAW)
        return {
            "text": text,
            "start": self.start,
            "end": self.end,
            "confidence": self.confidence,
            "word_is_final": final,
        }


@dataclass
class TurnTracker:
    """Where in the script the session is; fed audio milliseconds, returns Turn messages."""

    line: int = 0
    word: int = 0
    turn_order: int = 0
    next_start: int = 0
    heard: list[HeardWord] = field(default_factory=list)

    def speaker(self) -> str:
        return LINES[self.line % len(LINES)][0]

    def tokens(self) -> tuple[Token, ...]:
        return LINES[self.line % len(LINES)][1]

    def next_word(self) -> HeardWord:
        rng = random.Random(f"stream-{self.line}-{self.word}")
        start = self.next_start
        return HeardWord(self.tokens()[self.word], start, start + WORD_MS, word_confidence(rng))

    def advance(self, audio_ms: int, settings: StreamSettings) -> list[dict[str, Any]]:
        """Every word whose audio has fully arrived becomes final; a line's last word ends the turn."""
        messages: list[dict[str, Any]] = []
        fresh = False
        while self.next_start + WORD_MS <= audio_ms:
            self.heard.append(self.next_word())
            self.next_start += WORD_MS
            self.word += 1
            fresh = True
            if self.word == len(self.tokens()):
                messages += self.end_turn(settings, SCRIPT_END_CONFIDENCE)
                fresh = False
        if fresh:
            messages.append(self.partial(audio_ms, settings))
        return messages

    def partial(self, audio_ms: int, settings: StreamSettings) -> dict[str, Any]:
        words = [w.to_json(formatted=False) for w in self.heard]
        if audio_ms > self.next_start:  # a word under way shows, not yet final
            words.append(self.next_word().to_json(formatted=False, final=False))
        return self.turn(words, False, False, PARTIAL_CONFIDENCE, settings)

    def force_endpoint(self, audio_ms: int, settings: StreamSettings) -> list[dict[str, Any]]:
        """End the turn now with the words heard; the rest of its line is never spoken."""
        if not self.heard:
            return []
        messages = self.end_turn(settings, FORCED_END_CONFIDENCE)
        self.next_start = max(self.next_start, audio_ms)
        return messages

    def end_turn(self, settings: StreamSettings, confidence: float) -> list[dict[str, Any]]:
        raw = [w.to_json(formatted=False) for w in self.heard]
        messages = [self.turn(raw, True, False, confidence, settings)]
        if settings.format_turns:
            formatted = [w.to_json(formatted=True) for w in self.heard]
            messages.append(self.turn(formatted, True, True, confidence, settings))
        self.heard = []
        self.line += 1
        self.word = 0
        self.turn_order += 1
        return messages

    def turn(
        self,
        words: list[dict[str, Any]],
        end_of_turn: bool,
        formatted: bool,
        confidence: float,
        settings: StreamSettings,
    ) -> dict[str, Any]:
        transcript = " ".join(w["text"] for w in words if w["word_is_final"])
        message: dict[str, Any] = {
            "type": "Turn",
            "turn_order": self.turn_order,
            "turn_is_formatted": formatted,
            "end_of_turn": end_of_turn,
            "transcript": transcript,
            "utterance": transcript if end_of_turn else "",
            "end_of_turn_confidence": confidence,
            "words": words,
        }
        if settings.speaker_labels:
            message["speaker_label"] = self.speaker()
        if settings.language_detection and end_of_turn:
            message["language_code"] = "en"
            message["language_confidence"] = 0.99
        return message
