"""Every view by name: how an upstream answer becomes structuredContent plus readable text."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from aai_mcp.catalog.model import HostName
from aai_mcp.mcp_server.handlers.streaming_tokens import connection_query
from aai_mcp.mcp_server.views.answers import answer_view, document_view, search_results_view
from aai_mcp.mcp_server.views.archive_answers import archive_search_results_view
from aai_mcp.mcp_server.views.contract import Shaped, View, ViewContext
from aai_mcp.mcp_server.views.extraction_answers import extraction_view
from aai_mcp.mcp_server.views.instant_answers import clip_view, dictation_view
from aai_mcp.mcp_server.views.model_list import llm_models_view
from aai_mcp.mcp_server.views.shaping import capped_json, token_counts, without_words
from aai_mcp.mcp_server.views.speech_answers import speech_view
from aai_mcp.mcp_server.views.transcript import (
    deleted_view,
    segments_view,
    subtitles_view,
    transcript_list_view,
    transcript_view,
)
from aai_mcp.upstream.hosts import socket_host, websocket_url

DEFAULT_MAX_SESSION_SECONDS = 10800
# A TTS session's own limit (`session_ttl_sec`, ENDPOINTS-SDK-2026-10.md §3.3) when the token sets none.
SESSION_DEFAULTS: dict[HostName, int] = {"token": 3600}


def raw_view(payload: Any, ctx: ViewContext) -> Shaped:
    hint = "Narrow the request (fewer words or a smaller page)."
    return Shaped(structured=payload, text=capped_json(payload, ctx.max_chars, hint))


def chat_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    completion = payload["completion"]
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    tool_calls = choice.get("tool_calls") or message.get("tool_calls") or []
    out: dict[str, Any] = {
        "answer": message.get("content"),
        "finish_reason": choice.get("finish_reason"),
        "model": (completion.get("request") or {}).get("model") or ctx.args.get("model"),
        "usage": completion.get("usage") or {},
        "request_id": completion.get("request_id"),
    }
    if tool_calls:
        out["tool_calls"] = tool_calls
    if "parsed" in payload:
        out["parsed"] = payload["parsed"]
    if payload["notes"]:
        out["notes"] = payload["notes"]
    text = out["answer"] or ""
    if tool_calls:
        text += "\nTool calls: " + capped_json(tool_calls, ctx.max_chars // 4, "")
    usage = out["usage"]
    text += f"\n(model {out['model']}; {token_counts(usage)})"
    text += "".join(f"\n{note}" for note in payload["notes"])
    return Shaped(structured=out, text=text.strip())


def understanding_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    if payload.get("dry_run"):
        return dry_run_view(payload)
    out = {key: value for key, value in payload.items() if key != "words" and value is not None}
    out.setdefault("speech_understanding", {})
    if isinstance(out.get("utterances"), list):
        out["utterances"] = [without_words(item) for item in out["utterances"]]
    return Shaped(structured=out, text=capped_json(out, ctx.max_chars, "Ask for fewer target languages."))


def dry_run_view(payload: dict[str, Any]) -> Shaped:
    if payload["valid"]:
        text = "The LLM Gateway would accept this request (dry run: nothing ran). Call again without dry_run."
    else:
        problems = "\n".join(f"- {problem}" for problem in payload["errors"])
        text = f"The LLM Gateway would refuse this request (dry run: nothing ran):\n{problems}"
    return Shaped(structured=payload, text=text)


def token_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    expires_in = int(payload.get("expires_in_seconds") or ctx.args["expires_in_seconds"])
    expires_at = (
        (ctx.now + timedelta(seconds=expires_in)).isoformat(timespec="seconds").replace("+00:00", "Z")
    )
    token = str(payload["token"])
    # The session's parameters (create_streaming_token's `connection`, checked before the token was
    # minted) come first, the token last: a URL cut in a log shows no credential sooner.
    connection = connection_query(ctx.args) if "connection" in ctx.spec.params.options else ""
    socket = websocket_url(ctx.base_url, socket_host(ctx.spec.route.host))
    url = f"{socket}?{connection + '&' if connection else ''}token={quote(token, safe='')}"
    default_session = SESSION_DEFAULTS.get(ctx.spec.route.host, DEFAULT_MAX_SESSION_SECONDS)
    session = int(ctx.args.get("max_session_duration_seconds", default_session))
    out = {
        "token": token,
        "expires_in_seconds": expires_in,
        "expires_at": expires_at,
        "max_session_duration_seconds": session,
        "websocket_url": url,
        "next_step": f"Connect to websocket_url before {expires_at}; the token works once.",
    }
    text = (
        f"Temporary token (single use), valid until {expires_at} ({expires_in} s from now); "
        f"sessions last at most {session} s.\nWebSocket: {url}"
    )
    return Shaped(structured=out, text=text)


VIEWS: dict[str, View] = {
    "raw": raw_view,
    "transcript": transcript_view,
    "transcript_list": transcript_list_view,
    "deleted": deleted_view,
    "sentences": segments_view("sentences"),
    "paragraphs": segments_view("paragraphs"),
    "subtitles": subtitles_view,
    "chat": chat_view,
    "understanding": understanding_view,
    "token": token_view,
    "speech": speech_view,
    "answer": answer_view,
    "search_results": search_results_view,
    "document": document_view,
    "archive_search_results": archive_search_results_view,
    "extraction": extraction_view,
    "llm_models": llm_models_view,
    "clip": clip_view,
    "dictation": dictation_view,
}
