"""Text-to-speech: `POST /v1/speech` on the TTS host (ENDPOINTS-SDK-2026-10.md §3.1).

Not faked: the TTS WebSocket (`/v1/ws`, the SDK's TTSSession). On the simulator's one base URL that
path is the Voice Agent socket's, and the gateway's tools speak over HTTP only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .host_rules import UpstreamError
from .routes_api import account_of
from .routes_gateway import json_object
from .speech_audio import billed_characters, content_type, duration_ms, speech_audio
from .speech_params import MODEL, SpeechParamError, SpeechRequest, VoiceNotFound, parse_speech_request

REGION = "us-east-1"
CHUNK_BYTES = 8192  # streamed chunks are not sample-aligned upstream either (api.py:135-144)


def parsed(body: dict[str, object]) -> SpeechRequest:
    try:
        return parse_speech_request(body)
    except SpeechParamError as exc:
        raise UpstreamError(400, str(exc), code="invalid_parameter", param=exc.param) from None
    except VoiceNotFound as exc:
        raise UpstreamError(404, str(exc), code="voice_not_found", param="voice_id") from None


def metadata_headers(request: SpeechRequest) -> dict[str, str]:
    """The X-TTS-* headers the SDK reads into TTSResponseInfo (api.py:57-76)."""
    headers = {
        "X-Request-Id": str(uuid.uuid4()),
        "X-TTS-Region": REGION,
        "X-TTS-Model": MODEL,
        "X-TTS-Voice-Id": request.voice_id,
        "X-TTS-Language": request.language,
        "X-TTS-Encoding": request.encoding,
        "X-TTS-Sample-Rate": str(request.sample_rate),
        "X-TTS-Billed-Characters": str(billed_characters(request.text)),
    }
    if request.container is not None:
        headers["X-TTS-Container"] = request.container
    if request.bit_rate is not None:
        headers["X-TTS-Bit-Rate"] = str(request.bit_rate)
    if not request.stream or not duration_ms(request.text):
        # Only a complete answer knows its duration: buffered, or a stream with nothing to speak.
        headers["X-TTS-Audio-Duration-Ms"] = str(duration_ms(request.text))
    return headers


async def chunks(audio: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(audio), CHUNK_BYTES):
        yield audio[start : start + CHUNK_BYTES]


async def create_speech(request: Request) -> Response:
    account = account_of(request)
    speech = parsed(await json_object(request))
    audio = speech_audio(speech)
    account.usage.tts_characters += billed_characters(speech.text)
    headers = metadata_headers(speech)
    if speech.stream:
        return StreamingResponse(chunks(audio), headers=headers, media_type=content_type(speech))
    return Response(audio, headers=headers, media_type=content_type(speech))


SPEECH_ROUTES = [Route("/v1/speech", create_speech, methods=["POST"])]
