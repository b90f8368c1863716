"""Views of ask_transcript and of the ChatGPT connector tools (search, fetch)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from aai_mcp.mcp_server.views.archive_answers import archive_note
from aai_mcp.mcp_server.views.contract import Shaped, ViewContext
from aai_mcp.mcp_server.views.shaping import compact, slice_text, take_within, token_counts

# Room left in a fetch result for everything but the transcript text (title, metadata, JSON quoting).
DOCUMENT_OVERHEAD_CHARS = 1_000
METADATA_KEYS = ("status", "created", "audio_url", "audio_duration", "language_code", "confidence")


def stamp(ms: int | float | None) -> str:
    """Milliseconds as mm:ss (h:mm:ss past an hour), the form the model is asked to cite."""
    if ms is None:
        return "??:??"
    minutes, seconds = divmod(int(ms) // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def segment_lines(items: list[dict[str, Any]]) -> str:
    """Utterances, sentences or paragraphs as "[mm:ss] A: text" lines (no speaker: no label)."""
    lines = []
    for item in items:
        speaker = f" {item['speaker']}:" if item.get("speaker") else ""
        lines.append(f"[{stamp(item.get('start'))}]{speaker} {item.get('text', '')}")
    return "\n".join(lines)


def as_json(structured: dict[str, Any]) -> str:
    return json.dumps(structured, ensure_ascii=False)


def _content_text(content: Any) -> str | None:
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return None if content is None else str(content)


def answer_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    completion = payload["completion"]
    choice = (completion.get("choices") or [{}])[0]
    notes = list(payload["notes"])
    if choice.get("finish_reason") == "length":
        notes.append("The answer was cut at max_tokens: ask again with a larger max_tokens for all of it.")
    out: dict[str, Any] = {
        "answer": _content_text((choice.get("message") or {}).get("content")),
        "model": str((completion.get("request") or {}).get("model") or payload["model"]),
        "transcript_ids": payload["transcript_ids"],
        "context": payload["context"],
        "context_chars": payload["context_chars"],
        "usage": completion.get("usage") or {},
        "request_id": completion.get("request_id"),
    }
    if "parsed" in payload:
        out["parsed"] = payload["parsed"]
    if notes:
        out["notes"] = notes
    usage = out["usage"]
    facts = (
        f"(model {out['model']}; transcripts {', '.join(out['transcript_ids'])}; context {out['context']}, "
        f"{out['context_chars']} characters; {token_counts(usage)})"
    )
    text = "\n".join([out["answer"] or "(no answer)", "", facts, *notes])
    return Shaped(structured=out, text=text)


def search_results_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    # Best first, so the size cap only ever drops the weakest matches.
    kept, _ = take_within(payload["results"], 0, ctx.max_chars)
    structured = {"results": kept}
    return Shaped(structured=structured, text=as_json(structured))


def document_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    transcript_id = str(payload.get("id") or ctx.args["id"])
    utterances = payload.get("utterances") or []
    full = segment_lines(utterances) if utterances else str(payload.get("text") or "")
    budget = max(ctx.max_chars - DOCUMENT_OVERHEAD_CHARS, ctx.max_chars // 2)
    text, text_range = slice_text(full, 0, budget)
    metadata = compact({key: payload.get(key) for key in METADATA_KEYS})
    if text_range and text_range["next_offset"] is not None:
        metadata.update(truncated=True, total_chars=len(full))
        text += _truncation_notice(transcript_id, text_range["next_offset"], len(full), bool(utterances))
    archived = archive_note(payload)
    if archived:
        metadata["archive"] = payload["archive"]
        text = f"[{archived}]\n{text}"
    structured = {
        "id": transcript_id,
        "title": _document_title(transcript_id, payload),
        "text": text,
        "url": transcript_url(ctx.transcript_url_base, transcript_id),
        "metadata": metadata,
    }
    return Shaped(structured=structured, text=as_json(structured))


def transcript_url(base: str, transcript_id: str) -> str:
    """A link a person can open (ChatGPT shows it as the citation), never an assemblyai:// URI."""
    return base + quote(transcript_id, safe="")


def _truncation_notice(transcript_id: str, cut: int, total: int, turns: bool) -> str:
    rest = (
        f"get_paragraphs or get_sentences with transcript_id={transcript_id}"
        if turns
        else f"get_transcript with transcript_id={transcript_id} and text_offset={cut}"
    )
    return f"\n[truncated: {total - cut} more characters not shown. Read the rest with {rest}.]"


def _document_title(transcript_id: str, payload: dict[str, Any]) -> str:
    facts = []
    if payload.get("audio_duration") is not None:
        facts.append(f"{stamp(float(payload['audio_duration']) * 1000)} of audio")
    if payload.get("language_code"):
        facts.append(str(payload["language_code"]))
    return f"Transcript {transcript_id}" + (f" ({', '.join(facts)})" if facts else "")
