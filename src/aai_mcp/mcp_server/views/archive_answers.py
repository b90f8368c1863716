"""Views of what the transcript archive answers: search_archive's hits, and the marker every
transcript read from the archive carries (structured `archive`, a note in the text)."""

from __future__ import annotations

from typing import Any

from aai_mcp.mcp_server.views.contract import Shaped, ViewContext
from aai_mcp.mcp_server.views.shaping import clock, take_within

NO_ARCHIVE_NOTE = (
    "This server keeps no archive: only AssemblyAI's recent transcripts were word-searched, "
    "without snippets, and the speaker, date and status filters were not applied."
)


def archive_note(payload: dict[str, Any]) -> str | None:
    """The note for a transcript read from the archive, or None when upstream answered."""
    marker = payload.get("archive")
    if not isinstance(marker, dict):
        return None
    if marker.get("upstream_deleted") or marker.get("expired"):
        return (
            "Read from the server's archive: AssemblyAI no longer has this transcript (deleted or expired)."
        )
    return (
        "Read from the server's archive (AssemblyAI deletes transcripts after 90 days; "
        "the archive keeps them)."
    )


def archive_search_results_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    # Best first, so the size cap only ever drops the weakest hits.
    kept, dropped = take_within(payload["results"], 0, ctx.max_chars)
    structured: dict[str, Any] = {
        "source": payload["source"],
        "results": kept,
        "next_cursor": payload.get("next_cursor"),
    }
    notes = [NO_ARCHIVE_NOTE] if payload["source"] == "upstream" else []
    if dropped is not None:
        notes.append(f"Hits from #{dropped} on left out to stay small: ask with a smaller limit.")
    if notes:
        structured["notes"] = notes
    return Shaped(structured=structured, text=_render(structured))


def _render(out: dict[str, Any]) -> str:
    results = out["results"]
    where = "archive" if out["source"] == "archive" else "recent transcripts"
    lines = [f"{len(results)} hit(s) in the {where}:"]
    for hit in results:
        gone = ", gone upstream (archive only)" if hit["upstream_deleted"] or hit["expired"] else ""
        lines.append(f"{hit['transcript_id']}  created {hit.get('created') or '?'}{gone}: {hit['snippet']}")
        lines.extend(_span_line(span) for span in hit["hits"])
    lines.extend(out.get("notes", []))
    if out.get("next_cursor"):
        lines.append(f"More: call again with cursor={out['next_cursor']}.")
    if results:
        lines.append("Next: call get_transcript with a transcript_id to read it.")
    return "\n".join(lines)


def _span_line(span: dict[str, Any]) -> str:
    return f"  [{clock(span['start'])}-{clock(span['end'])}] {span.get('speaker') or '?'}: {span['text']}"
