"""How a text_to_speech answer is shown: metadata as structuredContent, the audio inline or a resource."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aai_mcp.mcp_server.views.contract import InlineAudio, Shaped, ViewContext


def speech_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    out = dict(payload)
    audio = out.pop("audio", None)
    assert audio is None or isinstance(audio, InlineAudio), "set by handlers/speech.py"
    duration = f"{out['audio_duration_ms'] / 1000:g} s" if "audio_duration_ms" in out else "unknown length"
    facts = f"{duration}, {out['content_type']}, {out['bytes']} bytes"
    if "billed_characters" in out:
        facts += f", {out['billed_characters']} characters billed"
    if "download" in out:
        expires = datetime.fromtimestamp(out["download"]["expires_at"], UTC)
        when = expires.isoformat(timespec="seconds").replace("+00:00", "Z")
        out["download"] = {"uri": out["download"]["uri"], "expires_at": when}
        text = (
            f"Speech ready ({facts}). It is too large to return inline: read the resource "
            f"{out['download']['uri']} (resources/read) before {when}."
        )
        return Shaped(structured=out, text=text)
    return Shaped(structured=out, text=f"Speech ready ({facts}); the audio is attached.", audio=audio)
