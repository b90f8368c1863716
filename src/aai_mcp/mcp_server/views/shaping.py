"""Small helpers the views share: size budgets, time formatting, dropping per-word arrays."""

from __future__ import annotations

import json
from typing import Any


def slice_text(text: str, offset: int, budget: int) -> tuple[str, dict[str, Any] | None]:
    """The part of `text` from `offset` that fits `budget`, and a range record when anything is cut."""
    part = text[offset : offset + budget]
    if offset == 0 and len(part) == len(text):
        return part, None
    end = offset + len(part)
    next_offset = end if end < len(text) else None
    return part, {
        "offset": offset,
        "returned_chars": len(part),
        "total_chars": len(text),
        "next_offset": next_offset,
    }


def take_within(
    items: list[dict[str, Any]], start: int, budget: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Items from `start` whose JSON fits `budget` (at least one), and the index to resume at."""
    taken: list[dict[str, Any]] = []
    used = 0
    for index in range(start, len(items)):
        size = len(json.dumps(items[index]))
        if taken and used + size > budget:
            return taken, index
        taken.append(items[index])
        used += size
    return taken, None


def without_words(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "words"}


def clock(ms: int | float | None) -> str:
    """Milliseconds as m:ss.s (or h:mm:ss.s)."""
    if ms is None:
        return "?"
    seconds = ms / 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{int(hours)}:{int(minutes):02d}:{secs:04.1f}"
    return f"{int(minutes)}:{secs:04.1f}"


def capped_json(payload: Any, budget: int, hint: str) -> str:
    text = json.dumps(payload, ensure_ascii=False, indent=1)
    if len(text) <= budget:
        return text
    return f"{text[:budget]}\n[truncated: {len(text) - budget} more characters not shown. {hint}]"


def compact(mapping: dict[str, Any]) -> dict[str, Any]:
    """Drop null values, so a compact view only says what is known."""
    return {key: value for key, value in mapping.items() if value is not None}


def token_counts(usage: dict[str, Any]) -> str:
    """An LLM answer's token counts: prompt/completion (2026-10), else input/output (2026-03 spec)."""
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens"))
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens"))
    return f"tokens in {tokens_in}, out {tokens_out}"
