"""The transcript reads several tools share (one place builds the path and checks the answer)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aai_mcp.upstream.client import Upstream, decode_json
from aai_mcp.upstream.errors import malformed_body


def path_segment(value: str) -> str:
    """`value` as exactly one path segment, so "../x", "a?b" or ".." can never change the route.

    Dots are encoded too: quote() leaves them, and httpx resolves a bare "." or ".." segment.
    """
    return quote(value, safe="").replace(".", "%2E")


def transcript_path(transcript_id: str, *rest: str) -> str:
    return "/".join([f"/v2/transcript/{path_segment(transcript_id)}", *rest])


async def read_transcript(upstream: Upstream, transcript_id: str) -> dict[str, Any]:
    response = await upstream.request("api", "GET", transcript_path(transcript_id))
    payload = decode_json(response)
    if not isinstance(payload, dict):
        raise malformed_body(response.status_code, "a transcript that is not an object")
    return payload
