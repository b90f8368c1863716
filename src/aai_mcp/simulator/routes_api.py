"""Handlers for the pre-recorded REST API (`api.assemblyai.com/v2/...`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .account_state import Simulator
from .captions import (
    ViewError,
    paragraphs_json,
    parse_chars_per_caption,
    parse_search_terms,
    render_srt,
    render_vtt,
    sentences_json,
    word_search_json,
)
from .host_rules import UpstreamError, host_for_path, presented_key
from .jobs import TranscriptRecord, download_failure, upload_failure, upload_id_of, uploaded_audio_ms
from .key_accounts import Account
from .listing import ListQueryError, matching, page_details, parse_list_query, select_page
from .params import ParamError, validate_transcript_params
from .render import list_item, transcript_body, transcript_json
from .understanding import check_understanding
from .upload_route import consume_upload, rejected_content_type

TERMINAL = ("completed", "error")


def simulator_of(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


def account_of(request: Request) -> Account:
    """The account whose key came with the request (the middleware let only known keys through)."""
    host = host_for_path(request.url.path)
    assert host is not None
    key = presented_key(host, request.headers.get("authorization"))
    assert key is not None
    return simulator_of(request).account(key)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise UpstreamError(400, "Request body must be valid JSON") from None


async def upload(request: Request) -> Response:
    if rejected_content_type(request.headers.get("content-type")):
        raise UpstreamError(
            400,
            "Send the raw file bytes as the request body with Content-Type: application/octet-stream; "
            "multipart/form-data, form and JSON bodies are not supported",
        )
    simulator = simulator_of(request)
    uploaded = await consume_upload(request.stream(), simulator.new_id())
    if uploaded.size == 0:
        raise UpstreamError(400, "Upload body is empty: send the raw audio file bytes")
    account_of(request).uploads[uploaded.upload_id] = uploaded
    return JSONResponse({"upload_url": uploaded.url})


def failure_for(account: Account, audio_url: str) -> tuple[str | None, str | None]:
    """(failure reason, upload id) for an audio_url, or 403 for uploads this account never made
    (AssemblyAI's answer to another project's upload URL)."""
    parts = urlsplit(audio_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UpstreamError(400, "audio_url must be a publicly accessible http(s) URL")
    upload_id = upload_id_of(audio_url)
    if upload_id is None:
        return download_failure(audio_url), None
    uploaded = account.uploads.get(upload_id)
    if uploaded is None:
        raise UpstreamError(403, "Cannot access uploaded file")
    return upload_failure(uploaded), upload_id


async def create_transcript(request: Request) -> Response:
    simulator = simulator_of(request)
    try:
        params = validate_transcript_params(await read_json(request))
        if "speech_understanding" in params:
            check_understanding(params["speech_understanding"])
    except ParamError as exc:
        raise UpstreamError(400, str(exc)) from None
    account = account_of(request)
    failure, upload_id = failure_for(account, params["audio_url"])
    record = TranscriptRecord(
        transcript_id=simulator.new_id(),
        sequence=account.transcripts.next_sequence(),
        params=params,
        created_clock=simulator.now(),
        created_wall=simulator.wall_now(),
        failure=failure,
        upload_id=upload_id,
        audio_ms=uploaded_audio_ms(account.uploads, upload_id),
    )
    account.transcripts.add(record)
    simulator.webhooks.submitted(record)
    return JSONResponse(transcript_json(record, "queued"))


async def list_transcripts(request: Request) -> Response:
    simulator = simulator_of(request)
    try:
        query = parse_list_query(request.query_params)
    except ListQueryError as exc:
        raise UpstreamError(400, str(exc)) from None
    records = account_of(request).transcripts.newest_first()
    # A cursor may name an expired transcript: it still marks a place in the sequence.
    visible = [r for r in records if not simulator.expired(r)]
    candidates = matching(visible, query, simulator.status_of)
    page = select_page(candidates, query, records)
    delay = simulator.config.processing_delay_seconds
    root = base_url(request)
    items = [list_item(r, simulator.status_of(r), root, delay) for r in page]
    details = page_details(query, page, candidates, f"{root}/v2/transcript", str(request.url))
    return JSONResponse({"page_details": details, "transcripts": items})


def find_record(request: Request) -> TranscriptRecord:
    # Unknown ids are 404 whatever their shape: upstream has issued non-UUID ids before. Another
    # account's transcript is unknown to this key.
    record = account_of(request).transcripts.get(request.path_params["transcript_id"])
    if record is None or simulator_of(request).expired(record):
        raise UpstreamError(404, "Not found")
    return record


async def get_transcript(request: Request) -> Response:
    record = find_record(request)
    body = transcript_body(record, simulator_of(request).status_of(record))
    return Response(body, media_type="application/json")


async def delete_transcript(request: Request) -> Response:
    simulator = simulator_of(request)
    record = find_record(request)
    status = simulator.status_of(record)
    if status not in TERMINAL:
        raise UpstreamError(
            400, f"Transcript is still processing (status: {status}); it can be deleted once it completes"
        )
    record.deleted = True
    if record.upload_id is not None:
        account_of(request).uploads.pop(record.upload_id, None)  # upstream deletes the uploaded file too
    return JSONResponse(transcript_json(record, status))


def completed_record(request: Request) -> TranscriptRecord:
    record = find_record(request)
    if record.deleted:
        raise UpstreamError(400, "Transcript has been deleted")
    status = simulator_of(request).status_of(record)
    if status != "completed":
        raise UpstreamError(400, f"Transcript is not completed (status: {status})")
    return record


def summary_fields(record: TranscriptRecord) -> dict[str, Any]:
    content = record.content
    return {
        "id": record.transcript_id,
        "confidence": content.confidence,
        "audio_duration": content.audio_duration,
    }


async def get_sentences(request: Request) -> Response:
    record = completed_record(request)
    return JSONResponse({**summary_fields(record), "sentences": sentences_json(record.content)})


async def get_paragraphs(request: Request) -> Response:
    record = completed_record(request)
    return JSONResponse({**summary_fields(record), "paragraphs": paragraphs_json(record.content)})


async def get_subtitles(request: Request) -> Response:
    subtitle_format = request.path_params["subtitle_format"]
    if subtitle_format not in ("srt", "vtt"):
        raise UpstreamError(404, "Not found")
    record = completed_record(request)
    try:
        chars = parse_chars_per_caption(request.query_params.get("chars_per_caption"))
    except ViewError as exc:
        raise UpstreamError(400, str(exc)) from None
    render = render_srt if subtitle_format == "srt" else render_vtt
    # Upstream labels subtitles text/html (spec-repo issue #136), so we do too.
    return Response(render(record.content, chars), media_type="text/html")


async def word_search(request: Request) -> Response:
    record = completed_record(request)
    try:
        terms = parse_search_terms(request.query_params.get("words"))
    except ViewError as exc:
        raise UpstreamError(400, str(exc)) from None
    total, matches = word_search_json(record.content, terms)
    return JSONResponse({"id": record.transcript_id, "total_count": total, "matches": matches})


def redacted_audio_url(simulator: Simulator, record: TranscriptRecord) -> str:
    quality = record.params.get("redact_pii_audio_quality") or "mp3"
    expires = int(simulator.wall_now().timestamp()) + 86400
    return (
        "https://s3.us-west-2.amazonaws.com/api.assembly.ai.usw2/redacted-audio/"
        f"{record.transcript_id}.{quality}?AWSAccessKeyId=simulated&Signature=simulated&Expires={expires}"
    )


async def get_redacted_audio(request: Request) -> Response:
    simulator = simulator_of(request)
    record = find_record(request)
    if not record.params.get("redact_pii_audio"):
        raise UpstreamError(
            400, "Redacted audio is only available when the transcript requested redact_pii_audio"
        )
    if record.deleted:
        raise UpstreamError(400, "Redacted audio is no longer available: the transcript was deleted")
    status = simulator.status_of(record)
    if status == "error":
        raise UpstreamError(400, f"Redacted audio is not available: the transcript failed ({record.failure})")
    if status != "completed":
        # The SDKs treat 202 as "not ready yet, poll again".
        return JSONResponse({"status": status}, status_code=202)
    return JSONResponse(
        {"status": "redacted_audio_ready", "redacted_audio_url": redacted_audio_url(simulator, record)}
    )


API_ROUTES = [
    Route("/v2/upload", upload, methods=["POST"]),
    Route("/v2/transcript", create_transcript, methods=["POST"]),
    Route("/v2/transcript", list_transcripts, methods=["GET"]),
    Route("/v2/transcript/{transcript_id}", get_transcript, methods=["GET"]),
    Route("/v2/transcript/{transcript_id}", delete_transcript, methods=["DELETE"]),
    Route("/v2/transcript/{transcript_id}/sentences", get_sentences, methods=["GET"]),
    Route("/v2/transcript/{transcript_id}/paragraphs", get_paragraphs, methods=["GET"]),
    Route("/v2/transcript/{transcript_id}/word-search", word_search, methods=["GET"]),
    Route("/v2/transcript/{transcript_id}/redacted-audio", get_redacted_audio, methods=["GET"]),
    Route("/v2/transcript/{transcript_id}/{subtitle_format}", get_subtitles, methods=["GET"]),
]
