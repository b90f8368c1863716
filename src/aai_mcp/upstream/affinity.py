"""Which AssemblyAI resource a call follows up, and which resources an answer made: the key pool's
affinity reads both (a resource belongs to the account of the key that made it). Every front door
(the proxy, the MCP tools) asks these same questions about its calls."""

from __future__ import annotations

import json
from typing import Any

TRANSCRIPTS = "/v2/transcript"
UPLOAD = "/v2/upload"
# Body fields that name an earlier resource: a transcript request's upload URL, an LLM Gateway
# understanding request's transcript.
_FOLLOWED_FIELDS = ("transcript_id", "audio_url")


def followed_resource(path: str, body: Any) -> str | None:
    """The transcript id in the path, else an upload URL or transcript id named in a JSON body
    (`body`: the raw bytes, or the document itself when the caller built it)."""
    if path.startswith(TRANSCRIPTS + "/"):
        return path.split("/")[3]
    document = _json(body) if isinstance(body, bytes) and body else body
    if isinstance(document, dict):
        for field in _FOLLOWED_FIELDS:
            value = document.get(field)
            if isinstance(value, str) and value:
                return value
    return None


def records_resources(host: str, method: str, path: str) -> bool:
    """Answers that name resources the key just made or can see: upload, transcript create and list."""
    return host == "api" and (
        (method == "POST" and path in (UPLOAD, TRANSCRIPTS)) or (method == "GET" and path == TRANSCRIPTS)
    )


def made_resources(body: bytes) -> list[str]:
    """Upload URL, transcript id, or the ids of a transcript list, from an answer's JSON."""
    document = _json(body)
    if not isinstance(document, dict):
        return []
    found = [document.get("upload_url"), document.get("id")]
    listed = document.get("transcripts")
    if isinstance(listed, list):
        found += [item.get("id") for item in listed if isinstance(item, dict)]
    return [value for value in found if isinstance(value, str) and value]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
