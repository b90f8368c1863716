"""OpenAPI stand-ins for the TTS hosts, which the spec repo lacks: written from ENDPOINTS-SDK-2026-10.md
§3.1 (POST /v1/speech, from the SDK's tts/v1/models.py and api.py) and §3.2 (the TTS token, docs only)."""

from __future__ import annotations

from typing import Any

TTS_SOURCE = "ENDPOINTS-SDK-2026-10.md §3.1 (not in the spec repo)"
TOKEN_SOURCE = "ENDPOINTS-SDK-2026-10.md §3.2 (not in the spec repo)"

TTS_SPEC: dict[str, Any] = {
    "servers": [{"url": "https://tts.us.assemblyai.com"}],
    "paths": {
        "/v1/speech": {
            "post": {
                "operationId": "createSpeech",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["text"],
                                "additionalProperties": False,
                                "properties": {
                                    "text": {"type": "string", "minLength": 1, "maxLength": 5000},
                                    "stream": {"type": "boolean"},
                                    "voice_id": {"type": "string"},
                                    "model_id": {"type": "string"},
                                    "language": {
                                        "type": "string",
                                        "enum": [
                                            "english",
                                            "spanish",
                                            "german",
                                            "french",
                                            "italian",
                                            "portuguese",
                                        ],
                                    },
                                    "sample_rate": {
                                        "type": "integer",
                                        "enum": [8000, 16000, 22050, 24000, 44100, 48000],
                                    },
                                    "encoding": {
                                        "type": "string",
                                        "enum": ["pcm_s16le", "pcm_mulaw", "pcm_alaw", "mp3"],
                                    },
                                    "container": {"type": "string", "enum": ["raw", "wav"]},
                                    "bit_rate": {
                                        "type": "integer",
                                        "enum": [32000, 48000, 64000, 96000, 128000],
                                    },
                                    "extend_biometric_consent": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
            }
        }
    },
}

TOKEN_SPEC: dict[str, Any] = {
    "servers": [{"url": "https://token.assemblyai.com"}],
    "paths": {
        "/v1/token": {
            "get": {
                "operationId": "generateTtsToken",
                "parameters": [
                    {
                        "name": "product",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": ["tts"]},
                    },
                    {
                        "name": "expires_in_seconds",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 600},
                    },
                    {
                        "name": "max_session_duration_seconds",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 60},
                    },
                ],
            }
        }
    },
}
