"""Which AssemblyAI resource a proxied call follows up, and which resources an answer made: the key
pool's affinity reads both (a resource belongs to the account of the key that made it)."""

from __future__ import annotations

import json
from typing import Any

from aai_mcp.proxy.allowlist import Target

TRANSCRIPTS = "/v2/transcript"
# Body fields that name an earlier resource: a transcript request's upload URL, an LLM Gateway
# understanding request's transcript.
_FOLLOWED_FIELDS = ("transcript_id", "audio_url")


def followed_resource(target: Target, body: bytes | None) -> str | None:
    """The transcript id in the path, else an upload URL or transcript id named in a JSON body."""
    if target.path.startswith(TRANSCRIPTS + "/"):
        return target.path.split("/")[3]
    document = _json(body) if body else None
    if isinstance(document, dict):
        for field in _FOLLOWED_FIELDS:
            value = document.get(field)
            if isinstance(value, str) and value:
                return value
    return None


def records_resources(method: str, target: Target) -> bool:
    """Answers that name resources the key just made or can see: upload, transcript create and list."""
    return target.host == "api" and (
        (method == "POST" and target.path in ("/v2/upload", TRANSCRIPTS))
        or (method == "GET" and target.path == TRANSCRIPTS)
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
