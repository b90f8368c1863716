"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import io
import wave
from typing import Any

from mcp_types import TextContent
from pydantic import SecretStr

from aai_mcp.config.settings import Settings

# A canary: this fake key must never show up in any result, response, log or exception text.
CANARY_KEY = "canary-KEY-4f1c9b2e-never-leak"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"api_key": SecretStr(CANARY_KEY), "retry_backoff_seconds": 0.0}
    values.update(overrides)
    return Settings(**values)


def wav_bytes(seconds: float = 0.5) -> bytes:
    """A silent 16 kHz mono WAV: audio the simulator accepts."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x00" * int(16000 * seconds))
    return buffer.getvalue()


def text_of(result: Any, index: int = 0) -> str:
    """The text of a result's content block, which must be a TextContent."""
    block = result.content[index]
    assert isinstance(block, TextContent), block
    return block.text


def error_details(result: Any) -> dict[str, Any]:
    """The machine-readable details of an isError result (`_meta["aai-mcp/error"]`)."""
    assert result.is_error, result
    assert result.structured_content is None, "error results carry no structuredContent"
    return dict(result.meta["aai-mcp/error"])


class ManualClock:
    """A simulator clock that moves only when a test says so: job lifecycles become event-driven
    instead of racing the wall clock on a loaded machine. A float store is atomic, so a test may
    advance it while the simulator reads it from another thread."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
