"""Transcripts as MCP resources: recent ones listed, each readable as JSON, text, segments or subtitles."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST

from aai_mcp.access.principal import LOCAL, Principal
from aai_mcp.caller_input import quoted
from aai_mcp.gateway import Gateway
from aai_mcp.mcp_server.handlers.archived_copies import upstream_shape
from aai_mcp.mcp_server.views.contract import ViewContext
from aai_mcp.mcp_server.views.transcript import segments_view, transcript_view
from aai_mcp.upstream import UpstreamError, decode_json, decode_text
from aai_mcp.upstream.errors import malformed_body
from aai_mcp.upstream.transcripts import read_transcript, transcript_path

if TYPE_CHECKING:
    from aai_mcp.state.archive_store import ArchivedTranscript

audit = logging.getLogger("aai_mcp.audit")

PREFIX = "assemblyai://transcripts/"
TRANSCRIPT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
LIST_PAGE_SIZE = 20
# A resource cannot be paged like a tool result, so its views get the whole transcript.
NO_CAP = sys.maxsize


@dataclass(frozen=True)
class Part:
    suffix: str
    """What follows the id in the URI ("" for the transcript itself)."""
    name: str
    title: str
    mime_type: str
    description: str
    tool: str
    """The tool this part mirrors: reading it needs that tool's permission."""


PARTS = {
    part.suffix: part
    for part in (
        Part(
            "",
            "transcript",
            "Transcript",
            "application/json",
            "A completed transcript as compact JSON: text, speaker utterances and metadata, "
            "no per-word arrays.",
            "get_transcript",
        ),
        Part(
            "/text",
            "transcript_text",
            "Transcript text",
            "text/plain",
            "The transcript's plain text.",
            "get_transcript",
        ),
        Part(
            "/sentences",
            "transcript_sentences",
            "Transcript sentences",
            "application/json",
            "Sentences with start/end milliseconds and speaker, no per-word arrays.",
            "get_sentences",
        ),
        Part(
            "/paragraphs",
            "transcript_paragraphs",
            "Transcript paragraphs",
            "application/json",
            "Paragraphs with start/end milliseconds, no per-word arrays.",
            "get_paragraphs",
        ),
        Part(
            "/subtitles.vtt",
            "transcript_vtt",
            "WebVTT subtitles",
            "text/vtt",
            "Subtitles as WebVTT.",
            "get_subtitles",
        ),
        Part(
            "/subtitles.srt",
            "transcript_srt",
            "SRT subtitles",
            "application/x-subrip",
            "Subtitles as SRT.",
            "get_subtitles",
        ),
    )
}
# Parts read from their own upstream endpoint, which answers 400 until the job is completed.
SUB_PATHS = {
    "/sentences": "sentences",
    "/paragraphs": "paragraphs",
    "/subtitles.vtt": "vtt",
    "/subtitles.srt": "srt",
}
# What the archive keeps of each part (None: not kept, so upstream is asked).
ARCHIVED_PARTS: dict[str, Callable[[ArchivedTranscript], Any]] = {
    "": lambda kept: kept.text,
    "/text": lambda kept: kept.text,
    "/sentences": lambda kept: kept.sentences,
    "/paragraphs": lambda kept: kept.paragraphs,
    "/subtitles.vtt": lambda kept: kept.vtt,
    "/subtitles.srt": lambda kept: kept.srt,
}
ARCHIVE_META = "aai_mcp/archive"
"""_meta key of a resource read from the archive: {source, upstream_deleted, expired}."""
LIST_TOOL = "list_transcripts"
"""resources/list mirrors list_transcripts: listing needs its permission."""
# Long enough to quote any well-formed URI whole (prefix, a 128-character id, the longest suffix).
URI_QUOTE_CHARS = 200
URI_RE = re.compile(r"^assemblyai://transcripts/(?P<id>[^/]*)(?P<suffix>/.*)?$")


def templates(parts: Mapping[str, Part] = PARTS) -> list[types.ResourceTemplate]:
    return [
        types.ResourceTemplate(
            name=part.name,
            title=part.title,
            uri_template=f"{PREFIX}{{id}}{part.suffix}",
            description=f"{part.description} Only completed transcripts can be read.",
            mime_type=part.mime_type,
        )
        for part in parts.values()
    ] + subtitle_template(parts)


def subtitle_template(parts: Mapping[str, Part]) -> list[types.ResourceTemplate]:
    """Both subtitle parts as one template whose {format} a client can complete (srt, vtt)."""
    if not {"/subtitles.vtt", "/subtitles.srt"} <= set(parts):
        return []
    uri = f"{PREFIX}{{id}}/subtitles.{{format}}"
    text = "Subtitles as srt or vtt. Only completed transcripts can be read."
    return [types.ResourceTemplate(name="transcript_subtitles", uri_template=uri, description=text)]


def parse_uri(uri: str, parts: Mapping[str, Part] = PARTS) -> tuple[str, Part]:
    """The transcript id and part a URI names; anything else is a clear invalid-params error.

    A part the caller may not read is unknown to it, like a URI that names no part at all."""
    match = URI_RE.fullmatch(uri)
    part = parts.get(match["suffix"] or "") if match else None
    if match is None or part is None:
        known = ", ".join(f"{PREFIX}{{id}}{suffix}" for suffix in parts) or "none for this caller"
        raise MCPError(
            INVALID_PARAMS, f"Unknown resource URI {quoted(uri, URI_QUOTE_CHARS)}. Readable URIs: {known}."
        )
    transcript_id = match["id"]
    if not TRANSCRIPT_ID.fullmatch(transcript_id):
        raise MCPError(
            INVALID_PARAMS,
            f"Bad transcript id {quoted(transcript_id)} in the URI: ids are 1-128 of A-Z a-z 0-9 _ -.",
        )
    return transcript_id, part


def not_completed(transcript_id: str, status: str, reason: str | None) -> MCPError:
    data = {"transcript_id": transcript_id, "status": status}
    if status == "error":
        message = (
            f"Transcript {transcript_id} failed (status error): {reason or 'no reason given'}. "
            "It will never have text: fix the audio and call transcribe again."
        )
        return MCPError(INVALID_PARAMS, message, data)
    message = (
        f"Transcript {transcript_id} is {status}: it has no text yet. Call the tool wait_for_transcript "
        f"with transcript_id={transcript_id}, then read this resource again."
    )
    return MCPError(INVALID_PARAMS, message, data)


def upstream_failure(exc: UpstreamError, what: str) -> MCPError:
    if exc.status == 404:
        return MCPError(
            INVALID_PARAMS, f"{what}: no such transcript (AssemblyAI answered HTTP 404).", exc.as_dict()
        )
    return MCPError(INTERNAL_ERROR, f"{what}: {exc.message}", exc.as_dict())


def listed(item: dict[str, Any]) -> types.Resource:
    created = str(item.get("created") or "?")[:19].replace("T", " ")
    name = f"Transcript {item.get('id')} ({item.get('status')}, {created})"
    details = [str(item["audio_url"])] if item.get("audio_url") else []
    if item.get("error"):
        details.append(f"error: {item['error']}")
    return types.Resource(
        name=name,
        title=name,
        uri=f"{PREFIX}{item.get('id')}",
        description="; ".join(details) or None,
        mime_type=PARTS[""].mime_type,
    )


@contextmanager
def audited(caller: str, resource: str, failure: str) -> Iterator[None]:
    """One audit line per resources/list or resources/read, like a tool call's: who read which kind
    of resource and how it went, never the URI (it holds the transcript id, an argument value).
    An upstream failure becomes the protocol error `failure` describes."""
    started = time.monotonic()
    outcome, status = "error", None
    try:
        yield
        outcome, status = "ok", 200
    except UpstreamError as exc:
        status = exc.status
        raise upstream_failure(exc, failure) from None
    finally:
        audit.info(
            "token=%s resource=%s outcome=%s upstream_status=%s duration_ms=%.0f",
            caller,
            resource,
            outcome,
            status,
            (time.monotonic() - started) * 1000,
        )


def refused(caller: str, resource: str, outcome: str = "unknown_resource") -> None:
    audit.info(
        "token=%s resource=%s outcome=%s upstream_status=None duration_ms=0", caller, resource, outcome
    )


class TranscriptResources:
    """resources/list, resources/templates/list and resources/read over the gateway's Upstream, as far
    as the caller's scopes let it use the tools each one mirrors (the same check as tools/call)."""

    def __init__(self, gateway: Gateway, principal: Principal = LOCAL) -> None:
        self.gateway = gateway
        self.principal = principal
        self.caller = principal.id
        self.upstream = gateway.upstream_for(principal)
        scopes = principal.scopes
        registry = gateway.registry
        self.parts = {
            suffix: part for suffix, part in PARTS.items() if registry.visible(part.tool, scopes) is not None
        }
        self.can_list = registry.visible(LIST_TOOL, scopes) is not None

    def templates(self) -> list[types.ResourceTemplate]:
        return templates(self.parts)

    async def page(self, cursor: str | None) -> types.ListResourcesResult:
        """One page of recent transcripts, newest first; the cursor is the last id of the page before.

        Without list_transcripts' permission the list is empty: nothing to list, not an error."""
        if not self.can_list:
            refused(self.caller, "list")
            return types.ListResourcesResult(resources=[])
        async with self._guarded("list", "Listing transcripts failed"):
            payload = await self._list(cursor)
        items = [
            item for item in payload.get("transcripts") or [] if TRANSCRIPT_ID.fullmatch(str(item.get("id")))
        ]
        more = bool((payload.get("page_details") or {}).get("prev_url"))
        return types.ListResourcesResult(
            resources=[listed(item) for item in items],
            next_cursor=str(items[-1]["id"]) if more and items else None,
        )

    @asynccontextmanager
    async def _guarded(self, resource: str, failure: str) -> AsyncIterator[None]:
        """Audited, and within the caller's limit of concurrent calls: a resource read reaches upstream
        like a tool call, so it takes one of the same places."""
        runner = self.gateway.runner
        hold = await runner.try_hold(self.principal)
        if hold is None:
            refused(self.caller, resource, "too_many_calls")
            limit = runner.settings.max_concurrent_calls_per_token
            raise MCPError(
                INVALID_REQUEST,
                f"Too many calls at once for this token ({limit} allowed); wait for one to finish.",
            )
        try:
            with audited(self.caller, resource, failure):
                yield
        finally:
            await runner.shared.release(hold)

    async def _list(self, cursor: str | None) -> dict[str, Any]:
        params = {"limit": str(LIST_PAGE_SIZE)}
        if cursor is not None:
            if not TRANSCRIPT_ID.fullmatch(cursor):
                message = f"Bad cursor {quoted(cursor)}: pass back a next_cursor unchanged."
                raise MCPError(INVALID_PARAMS, message)
            params["before_id"] = cursor
        response = await self.upstream.request("api", "GET", "/v2/transcript", params=params)
        payload = decode_json(response)
        if not isinstance(payload, dict):
            raise malformed_body(response.status_code, "a transcript list that is not an object")
        return payload

    async def read(self, uri: str) -> types.ReadResourceResult:
        try:
            transcript_id, part = parse_uri(uri, self.parts)
        except MCPError:
            refused(self.caller, "(not-a-resource)")
            raise
        archived = await self._archived(transcript_id, part)
        if archived is not None:
            # Marked in _meta, never in the content: a client reads /text or subtitles as they are.
            meta = {ARCHIVE_META: upstream_shape(archived)["archive"]}
            return types.ReadResourceResult(
                contents=[
                    types.TextResourceContents(
                        uri=uri, mime_type=part.mime_type, text=self._from_archive(archived, part), meta=meta
                    )
                ]
            )
        async with self._guarded(part.name, f"Reading {uri} failed"):
            text = await self._read(transcript_id, part)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type=part.mime_type, text=text)]
        )

    async def _archived(self, transcript_id: str, part: Part) -> ArchivedTranscript | None:
        """The caller's account's completed archived copy when it holds this part (read before upstream,
        which deletes transcripts after 90 days)."""
        archive = self.gateway.runner.archive
        if archive is None:
            return None
        account = self.principal.account
        kept = await anyio.to_thread.run_sync(lambda: archive.get(transcript_id, account=account))
        if kept is None or kept.status != "completed" or ARCHIVED_PARTS[part.suffix](kept) is None:
            return None
        audit.info("token=%s resource=%s outcome=ok source=archive", self.caller, part.name)
        return kept

    def _from_archive(self, kept: ArchivedTranscript, part: Part) -> str:
        if part.suffix in ("/subtitles.vtt", "/subtitles.srt"):
            return str(ARCHIVED_PARTS[part.suffix](kept))
        if part.suffix in SUB_PATHS:
            kind = SUB_PATHS[part.suffix]
            payload = {"id": kept.transcript_id, kind: ARCHIVED_PARTS[part.suffix](kept)}
            shaped = segments_view(kind)(payload, self._context(f"get_{kind}")).structured
            return _dumps({key: shaped[key] for key in ("id", "kind", "total", "items")})
        payload = upstream_shape(kept)
        if part.suffix == "/text":
            return str(payload.get("text") or "")
        shaped = transcript_view(payload, self._context("get_transcript")).structured
        return _dumps({key: value for key, value in shaped.items() if key != "notes"})

    async def _read(self, transcript_id: str, part: Part) -> str:
        if part.suffix not in SUB_PATHS:
            payload = await self._completed(transcript_id)
            if part.suffix == "/text":
                return str(payload.get("text") or "")
            shaped = transcript_view(payload, self._context("get_transcript")).structured
            return _dumps({key: value for key, value in shaped.items() if key != "notes"})
        response = await self._sub_resource(transcript_id, SUB_PATHS[part.suffix])
        if part.suffix.startswith("/subtitles"):
            return decode_text(response)
        kind = SUB_PATHS[part.suffix]
        shaped = segments_view(kind)(decode_json(response), self._context(f"get_{kind}")).structured
        return _dumps({key: shaped[key] for key in ("id", "kind", "total", "items")})

    async def _completed(self, transcript_id: str) -> dict[str, Any]:
        payload = await read_transcript(self.upstream, transcript_id)
        if payload.get("status") != "completed":
            raise not_completed(transcript_id, str(payload.get("status")), payload.get("error"))
        return payload

    async def _sub_resource(self, transcript_id: str, sub_path: str) -> httpx.Response:
        try:
            return await self.upstream.request("api", "GET", transcript_path(transcript_id, sub_path))
        except UpstreamError as exc:
            if exc.status == 400:
                # Usually "not completed": say which status it is, and what to do about it.
                await self._completed(transcript_id)
            raise

    def _context(self, tool: str) -> ViewContext:
        return ViewContext(
            spec=self.gateway.catalog.tools[tool],
            args={},
            max_chars=NO_CAP,
            base_url=self.upstream.base_urls["api"],
            now=datetime.now(UTC),
        )


def _dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)
