"""Views of the one-request APIs' answers (Sync STT, Dictation): the text first, then the facts."""

from __future__ import annotations

from typing import Any

from aai_mcp.mcp_server.views.contract import Shaped, ViewContext
from aai_mcp.mcp_server.views.shaping import compact

CLIP_NEXT_STEP = (
    "Done: the text is all there is (the Sync API stores nothing, so there is no transcript id to "
    "read later). For speakers, paragraphs, subtitles or longer audio use transcribe."
)
DICTATION_NEXT_STEP = (
    "Done: final_text is the rewrite (or the verbatim text when the rewrite failed: see llm_error). "
    "Nothing is stored at AssemblyAI."
)


def _seconds(payload: dict[str, Any]) -> float | None:
    duration = payload.get("audio_duration_ms")
    return round(float(duration) / 1000, 3) if isinstance(duration, int | float) else None


def _common(payload: dict[str, Any]) -> dict[str, Any]:
    return compact(
        {
            "text": str(payload.get("text", "")),
            "confidence": payload.get("confidence"),
            "audio_duration_seconds": _seconds(payload),
            "session_id": payload.get("session_id"),
            "request_time_ms": payload.get("request_time_ms"),
        }
    )


def clip_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    out = {**_common(payload), "model": payload.get("model"), "next_step": CLIP_NEXT_STEP}
    if ctx.args.get("timestamps"):
        out["words"] = [compact(word) for word in payload.get("words") or []]
    out = compact(out)
    facts = f"({out.get('audio_duration_seconds', '?')} s of audio, model {out.get('model', '?')})"
    return Shaped(structured=out, text=f"{out['text']}\n{facts}\nNext: {CLIP_NEXT_STEP}")


def dictation_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    rewrite = payload.get("llm_response")
    out = {
        **_common(payload),
        "final_text": rewrite if isinstance(rewrite, str) and rewrite else str(payload.get("text", "")),
        "llm_response": rewrite,
        "llm_error": payload.get("llm_error"),
        "next_step": DICTATION_NEXT_STEP,
    }
    out = compact(out)
    lines = [out["final_text"]]
    if out["final_text"] != out["text"]:
        lines.append(f"Verbatim: {out['text']}")
    if "llm_error" in out:
        lines.append(f"The rewrite failed: {out['llm_error']}")
    lines.append(f"Next: {DICTATION_NEXT_STEP}")
    return Shaped(structured=out, text="\n".join(lines))
