"""Handlers for llm-gateway (`/v1/chat/completions`, `/v1/understanding`, its validate, `/v1/models`)
and the token hosts."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .account_state import Simulator
from .gateway_models import model_list, validation_errors
from .host_rules import UpstreamError
from .jobs import TranscriptRecord
from .key_accounts import Account
from .llm import chat_completion, chat_messages, check_model, check_options, substitute_transcript
from .llm_windows import SERVICE_LLM, SERVICE_UNDERSTANDING, UNDERSTANDING_MODEL
from .params import ParamError
from .routes_api import account_of, simulator_of
from .temp_tokens import TokenParamError, issue_token
from .understanding import run_understanding


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise UpstreamError(400, "Request body must be valid JSON") from None
    if not isinstance(body, dict):
        raise UpstreamError(400, "Request body must be a JSON object")
    return body


def completed_transcript(simulator: Simulator, account: Account, transcript_id: Any) -> TranscriptRecord:
    if not isinstance(transcript_id, str) or not transcript_id:
        raise UpstreamError(400, "transcript_id must be a non-empty string")
    record = account.transcripts.get(transcript_id)
    if record is None:
        raise UpstreamError(404, f"Transcript {transcript_id} not found")
    if record.deleted:
        raise UpstreamError(400, f"Transcript {transcript_id} has been deleted")
    status = simulator.status_of(record)
    if status != "completed":
        raise UpstreamError(400, f"Transcript {transcript_id} is not completed (status: {status})")
    return record


async def chat_completions(request: Request) -> Response:
    simulator, account = simulator_of(request), account_of(request)
    body = await json_object(request)
    model = check_model(body)
    messages = chat_messages(body)
    check_options(body)
    transcript_words = None
    if body.get("transcript_id") is not None:
        record = completed_transcript(simulator, account, body["transcript_id"])
        messages = substitute_transcript(messages, record.content.text)
        transcript_words = len(record.content.words)
    result = chat_completion(body, messages, transcript_words)
    account.usage.add_llm(result["usage"])
    headers = account.rate_windows.hit(SERVICE_LLM, model, simulator.now())
    return JSONResponse(result, headers=headers)


async def understanding(request: Request) -> Response:
    simulator, account = simulator_of(request), account_of(request)
    body = await json_object(request)
    if "transcript_id" not in body:
        raise UpstreamError(400, "transcript_id is required")
    record = completed_transcript(simulator, account, body["transcript_id"])
    try:
        result = run_understanding(body.get("speech_understanding"), record.content)
    except ParamError as exc:
        raise UpstreamError(400, str(exc)) from None
    account.usage.understanding_requests += 1
    headers = account.rate_windows.hit(SERVICE_UNDERSTANDING, UNDERSTANDING_MODEL, simulator.now())
    # The SDK requires request_id (models.py:275-293); a transcript that asked for the same feature
    # gets only `result` merged in.
    return JSONResponse({"request_id": str(uuid.uuid4()), **result}, headers=headers)


async def list_models(request: Request) -> Response:
    return JSONResponse({"data": model_list()})


async def validate_understanding(request: Request) -> Response:
    """200 when `/v1/understanding` would take the request; the transcript need not exist yet (the SDK
    makes transcript_id optional here, `_base.py:64-75`)."""
    errors = validation_errors(await json_object(request))
    if errors:
        raise UpstreamError(400, "Invalid speech understanding request", errors=errors)
    return JSONResponse({"valid": True})


def token_handler(audience: str) -> Any:
    async def handler(request: Request) -> Response:
        simulator, account = simulator_of(request), account_of(request)
        try:
            issued = issue_token(request.query_params, audience, simulator.now(), account.key, account.index)
        except TokenParamError as exc:
            raise UpstreamError(400, str(exc)) from None
        simulator.tokens[issued.token] = issued
        return JSONResponse({"token": issued.token, "expires_in_seconds": issued.expires_in_seconds})

    return handler


async def v1_token(request: Request) -> Response:
    """`/v1/token` on the Voice Agent host, or with `product=tts` the TTS token (docs only,
    ENDPOINTS-SDK-2026-10.md §3.2): one path on the simulator's one base URL."""
    product = request.query_params.get("product")
    if product not in (None, "tts"):
        raise UpstreamError(400, "product must be tts")
    handler = token_handler("tts" if product == "tts" else "agents")
    response: Response = await handler(request)
    return response


GATEWAY_ROUTES = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/understanding", understanding, methods=["POST"]),
    Route("/v1/understanding/validate", validate_understanding, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v3/token", token_handler("streaming"), methods=["GET"]),
    Route("/v1/token", v1_token, methods=["GET"]),
]
