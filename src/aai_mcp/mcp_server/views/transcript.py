"""Views of transcripts: compact by default, never hiding which state a job is in."""

from __future__ import annotations

from typing import Any

from aai_mcp.mcp_server.views.archive_answers import archive_note
from aai_mcp.mcp_server.views.contract import Shaped, ViewContext
from aai_mcp.mcp_server.views.shaping import clock, compact, slice_text, take_within, without_words
from aai_mcp.mcp_server.views.transcript_parts import (
    DETAILS,
    FEATURES,
    TEXT,
    UTTERANCES,
    left_out,
    requested_parts,
)

# Result fields that only matter when a feature was requested; shown when present.
FEATURE_RESULTS = (
    "auto_highlights_result",
    "content_safety_labels",
    "iab_categories_result",
    "entities",
    "sentiment_analysis_results",
    "translated_texts",
    "speech_understanding",
    "language_confidence",
    # SDK 1.8.2 (types.py:681-695, :2598-2606): code-switching languages, the domain model that ran
    # and upstream's warnings about the request.
    "language_detection_results",
    "metadata",
)


# The small facts the `details` part holds.
DETAIL_FIELDS = ("audio_duration", "confidence", "language_code", "speech_model_used")

# Gateway facts a multi-step tool adds to the transcript it returns.
WAIT_FIELDS = ("waited_seconds", "timed_out", "upload_url", "transcription_path", "sync_declined")
SYNC_NEXT_STEP = (
    "Done, through the Sync API: the text is all there is. Nothing was stored at AssemblyAI, so there is "
    "no transcript id to read it by later (id is the sync session's). For paragraphs, subtitles or "
    "ask_transcript, transcribe without prefer=speed."
)


def next_step(transcript_id: str, status: str) -> str:
    if status in ("queued", "processing"):
        return (
            f"Not finished: there is no text yet. Call wait_for_transcript (or get_transcript) with "
            f"transcript_id={transcript_id}; the job keeps running meanwhile. Do not describe the content "
            "until status is completed."
        )
    if status == "error":
        return "The job failed (see error). Fix the audio or audio_url and call create_transcript again."
    return (
        f"Done. Read it with get_paragraphs, get_sentences or get_subtitles, search it with search_words, "
        f'or ask questions about it with ask_transcript (transcript_ids=["{transcript_id}"]).'
    )


def transcript_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    transcript_id = str(payload.get("id", ""))
    status = str(payload.get("status", "error"))
    out: dict[str, Any] = {
        "id": transcript_id,
        "status": status,
        "next_step": SYNC_NEXT_STEP
        if payload.get("transcription_path") == "sync"
        else next_step(transcript_id, status),
    }
    if status == "error":
        out["error"] = payload.get("error") or "AssemblyAI reported an error without a reason."
    out.update({key: payload[key] for key in WAIT_FIELDS if key in payload})
    notes: list[str] = []
    archived = archive_note(payload)
    if archived:
        out["archive"] = payload["archive"]
        notes.append(archived)
    if status == "completed":
        _add_content(out, payload, ctx, notes)
    if notes:
        out["notes"] = notes
    return Shaped(
        structured=out,
        text=_render(out, payload),
        failed_job=payload.get("status") == "error",
        view_data=_playable(payload) if status == "completed" else None,
    )


def _playable(payload: dict[str, Any]) -> dict[str, Any] | None:
    # Only a web address can play in a browser; the viewer still plays it only from allowed origins.
    audio_url = payload.get("audio_url")
    if isinstance(audio_url, str) and audio_url.startswith(("https://", "http://")):
        return {"audio_url": audio_url}
    return None


def _add_content(out: dict[str, Any], payload: dict[str, Any], ctx: ViewContext, notes: list[str]) -> None:
    parts = requested_parts(ctx.args)
    text = ""
    if TEXT in parts:
        text = _add_text(out, payload, ctx, notes)
    if DETAILS in parts:
        out.update(compact({key: payload.get(key) for key in DETAIL_FIELDS}))
    if UTTERANCES in parts:
        _add_utterances(out, payload, max(ctx.max_chars - len(text), 0), notes)
    omitted = left_out(ctx.args)
    if ctx.args.get("include_words"):
        out["words"] = payload.get("words") or []
    elif payload.get("words") and not omitted:
        notes.append("Per-word timings left out: pass include_words=true to get them.")
    if FEATURES in parts:
        out.update(compact({key: payload.get(key) for key in FEATURE_RESULTS}))
    if omitted:
        notes.append(f"Left out as asked (include): {', '.join(omitted)}.")


def _add_text(out: dict[str, Any], payload: dict[str, Any], ctx: ViewContext, notes: list[str]) -> str:
    text, text_range = slice_text(
        payload.get("text") or "", int(ctx.args.get("text_offset", 0)), ctx.max_chars
    )
    out["text"] = text
    if text_range:
        out["text_range"] = text_range
        if text_range["next_offset"] is not None:
            notes.append(
                f"Text cut at the size cap: call again with text_offset={text_range['next_offset']}."
            )
    return text


def _add_utterances(out: dict[str, Any], payload: dict[str, Any], budget: int, notes: list[str]) -> None:
    utterances = [without_words(item) for item in payload.get("utterances") or []]
    if utterances:
        kept, resume = take_within(utterances, 0, budget)
        out["utterances"] = kept
        if resume is not None:
            notes.append(
                f"Utterances from #{resume} on left out to stay small: use get_sentences or get_paragraphs."
            )


def _render(out: dict[str, Any], payload: dict[str, Any]) -> str:
    lines = [f"Transcript {out['id']}: status {out['status']}."]
    if out.get("timed_out"):
        lines.append(f"Still running after waiting {out['waited_seconds']} s; nothing is lost.")
    if out["status"] == "error":
        lines.append(f"Error: {out['error']}")
    facts = [f"{key.replace('_', ' ')} {out[key]}" for key in DETAIL_FIELDS if key in out]
    if facts:
        lines.append("; ".join(facts))
    if out.get("utterances"):
        lines.extend(
            f"[{clock(u.get('start'))}] {u.get('speaker')}: {u.get('text')}" for u in out["utterances"]
        )
        if out.get("text_range"):
            lines.append(f"Text from offset {out['text_range']['offset']}: {out['text']}")
    elif "text" in out:
        lines.append(out["text"])
    lines.extend(out.get("notes", []))
    lines.append(f"Next: {out['next_step']}")
    return "\n".join(lines)


def segments_view(kind: str) -> Any:
    def view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
        items = payload.get(kind) or []
        if not ctx.args.get("include_words"):
            items = [without_words(item) for item in items]
        start = int(ctx.args.get("start_index", 0))
        kept, resume = take_within(items, start, ctx.max_chars)
        out = {
            "id": str(payload.get("id", "")),
            "kind": kind,
            "items": kept,
            "total": len(items),
            "start_index": start,
            "next_index": resume,
        }
        lines = [f"{kind.capitalize()} {start}-{start + len(kept) - 1} of {len(items)} ({out['id']}):"]
        lines.extend(
            f"[{clock(i.get('start'))}-{clock(i.get('end'))}]"
            + (f" {i['speaker']}:" if i.get("speaker") else "")
            + f" {i.get('text', '')}"
            for i in kept
        )
        if resume is not None:
            lines.append(f"More remain: call again with start_index={resume}.")
        return Shaped(structured=out, text="\n".join(lines))

    return view


def subtitles_view(payload: str, ctx: ViewContext) -> Shaped:
    fmt = str(ctx.args.get("subtitle_format", "srt"))
    text, text_range = slice_text(payload, int(ctx.args.get("text_offset", 0)), ctx.max_chars)
    out: dict[str, Any] = {"format": fmt, "text": text}
    rendered = text
    if text_range:
        out["text_range"] = text_range
        if text_range["next_offset"] is not None:
            rendered += f"\n[truncated: call again with text_offset={text_range['next_offset']} for the rest]"
    return Shaped(structured=out, text=rendered)


def transcript_list_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    keys = ("id", "status", "created", "completed", "audio_url", "error")
    items = [{key: item.get(key) for key in keys} for item in payload.get("transcripts") or []]
    page = payload.get("page_details") or {}
    out = {"transcripts": items, "page_details": page}
    lines = [f"{len(items)} transcript(s), newest first:"]
    lines.extend(f"{i['id']}  {i['status']}  created {i['created']}  {i['audio_url']}" for i in items)
    if page.get("prev_url") and items:
        lines.append(f"Older: call again with before_id={items[-1]['id']}.")
    return Shaped(structured=out, text="\n".join(lines))


def deleted_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    transcript_id = str(payload.get("id") or ctx.args.get("transcript_id", ""))
    message = f"Transcript {transcript_id} deleted: its text, words and uploaded audio are gone for good."
    return Shaped(structured={"id": transcript_id, "deleted": True, "message": message}, text=message)
