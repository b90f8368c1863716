"""Product overviews: what each AssemblyAI surface is for, its host and the endpoints that serve it.

Products the 2026-03 specs lack (Sync STT, Dictation, TTS, the model list) are described from the
official SDK, as ENDPOINTS-SDK-2026-10.md records; their endpoints are listed without parameters.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    name: str
    summary: str
    host: str
    endpoints: tuple[str, ...]
    """`METHOD path` of each endpoint; those in the bundled specs have a full entry."""
    source: str


PRODUCTS = {
    product.name: product
    for product in (
        Product(
            "pre-recorded",
            "Asynchronous speech-to-text: upload or give an audio_url, create a transcript job "
            "(speech_models required), poll until completed, then read text, sentences, paragraphs, "
            "subtitles or word matches.",
            "https://api.assemblyai.com (EU: api.eu.assemblyai.com)",
            (
                "POST /v2/upload",
                "POST /v2/transcript",
                "GET /v2/transcript",
                "GET /v2/transcript/{transcript_id}",
                "DELETE /v2/transcript/{transcript_id}",
                "GET /v2/transcript/{transcript_id}/{subtitle_format}",
            ),
            "openapi.json; ENDPOINTS.md §2-§6",
        ),
        Product(
            "llm-gateway",
            "LLM Gateway: OpenAI-style chat completions on Claude, GPT and Gemini models (a transcript "
            "can be put into the prompt), the model list, and Speech Understanding (translation, "
            "speaker identification, custom formatting). Replaces LeMUR.",
            "https://llm-gateway.assemblyai.com (EU: llm-gateway.eu.assemblyai.com, Claude and Gemini only)",
            ("POST /v1/chat/completions", "POST /v1/understanding", "GET /v1/models"),
            "llm-gateway.yml; ENDPOINTS.md §7-§8; ENDPOINTS-SDK-2026-10.md §4",
        ),
        Product(
            "streaming",
            "Streaming speech-to-text v3 over a WebSocket (wss://streaming.assemblyai.com/v3/ws); "
            "browsers connect with a temporary token from GET /v3/token; end every session with "
            'a {"type": "Terminate"} message.',
            "https://streaming.assemblyai.com (EU: streaming.eu.assemblyai.com)",
            ("GET /v3/token",),
            "streaming-token.yml; ENDPOINTS.md §9",
        ),
        Product(
            "sync",
            "Sync STT: a clip of up to 120 s transcribed in one request, with no job to poll "
            "(multipart body, config part first).",
            "https://sync.assemblyai.com",
            ("POST /v1/transcribe/live", "GET /v1/warm"),
            "ENDPOINTS-SDK-2026-10.md §1 (not in the 2026-03 specs)",
        ),
        Product(
            "dictation",
            "Dictation: transcribe a clip and rewrite it by instruction in one request.",
            "https://dictation.assemblyai.com",
            (),
            "ENDPOINTS-SDK-2026-10.md §2 (not in the 2026-03 specs)",
        ),
        Product(
            "tts",
            "Text-to-speech over HTTP (POST /v1/speech) and WebSocket; browsers use a temporary token "
            "from token.assemblyai.com (product=tts).",
            "https://tts.us.assemblyai.com (EU: tts.eu.assemblyai.com)",
            ("POST /v1/speech",),
            "ENDPOINTS-SDK-2026-10.md §3 (not in the 2026-03 specs)",
        ),
    )
}
