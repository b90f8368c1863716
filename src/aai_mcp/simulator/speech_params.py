"""What `POST /v1/speech` accepts, checked as the TTS API does (ENDPOINTS-SDK-2026-10.md §3.1, from
the SDK's `tts/v1/models.py`; the newer reference wins over ENDPOINTS.md, which has no TTS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_TEXT_CHARS = 5000  # tts/v1/client.py:103 "1 to 5,000 characters"
LIBRARY_VOICES = frozenset(
    f"aai-{name}"
    for name in (
        "jane",
        "alba",
        "anna",
        "charles",
        "eve",
        "george",
        "jean",
        "mary",
        "michael",
        "paul",
        "vera",
    )
)
VOICE_LANGUAGES = {"aai-jean": "french", "aai-alba": "spanish", "aai-vera": "german"}
LANGUAGES = frozenset({"english", "spanish", "german", "french", "italian", "portuguese"})
SAMPLE_RATES = frozenset({8000, 16000, 22050, 24000, 44100, 48000})
ENCODINGS = {"pcm_s16le": "pcm_s16le", "pcm_mulaw": "pcm_mulaw", "pcm_alaw": "pcm_alaw", "mp3": "mp3"}
ENCODINGS |= {"mulaw": "pcm_mulaw", "alaw": "pcm_alaw"}  # aliases the API accepts (models.py:172-174)
BIT_RATES = frozenset({32000, 48000, 64000, 96000, 128000})
KNOWN_KEYS = frozenset(
    {
        "text",
        "stream",
        "voice_id",
        "model_id",
        "language",
        "sample_rate",
        "encoding",
        "container",
        "bit_rate",
        "extend_biometric_consent",
    }
)
MODEL = "assemblyai-tts-1"


class SpeechParamError(ValueError):
    """A 400 `invalid_parameter`, naming the field."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class VoiceNotFound(ValueError):
    """A 404 `voice_not_found`."""


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    stream: bool
    voice_id: str
    language: str
    sample_rate: int
    encoding: str
    container: str | None  # None for MP3
    bit_rate: int | None  # MP3 only


def parse_speech_request(body: dict[str, Any]) -> SpeechRequest:
    unknown = sorted(set(body) - KNOWN_KEYS)
    if "voice" in unknown:
        raise SpeechParamError("voice", "Unknown parameter 'voice'; did you mean 'voice_id'?")
    if unknown:
        raise SpeechParamError(unknown[0], f"Unknown parameter '{unknown[0]}'")
    encoding = _encoding(body.get("encoding", "pcm_s16le"))
    sample_rate = _choice(body, "sample_rate", SAMPLE_RATES, 24000)
    voice_id = _voice(body.get("voice_id", "aai-jane"))
    return SpeechRequest(
        text=_text(body.get("text")),
        stream=_flag(body, "stream", True),
        voice_id=voice_id,
        language=_language(body.get("language"), voice_id),
        sample_rate=sample_rate,
        encoding=encoding,
        container=_container(body.get("container"), encoding),
        bit_rate=_bit_rate(body.get("bit_rate"), encoding, sample_rate),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SpeechParamError("text", "text is required and must be a non-empty string")
    if len(value) > MAX_TEXT_CHARS:
        raise SpeechParamError("text", f"text must be at most {MAX_TEXT_CHARS} characters")
    return value


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise SpeechParamError(name, f"{name} must be a boolean")
    return value


def _choice(body: dict[str, Any], name: str, allowed: frozenset[int], default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or value not in allowed:
        raise SpeechParamError(name, f"{name} must be one of {sorted(allowed)}")
    return int(value)


def _encoding(value: Any) -> str:
    if value not in ENCODINGS:
        raise SpeechParamError("encoding", "encoding must be one of pcm_s16le, pcm_mulaw, pcm_alaw, mp3")
    return ENCODINGS[value]


def _voice(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SpeechParamError("voice_id", "voice_id must be a non-empty string")
    if value not in LIBRARY_VOICES:
        raise VoiceNotFound(f"Voice '{value[:64]}' was not found in this region")
    return value


def _language(value: Any, voice_id: str) -> str:
    if value is None:
        return VOICE_LANGUAGES.get(voice_id, "english")
    if not isinstance(value, str) or value.lower() not in LANGUAGES:
        raise SpeechParamError("language", f"language must be one of {sorted(LANGUAGES)}")
    return value.lower()


def _container(value: Any, encoding: str) -> str | None:
    if encoding == "mp3":
        if value not in (None, "raw"):
            raise SpeechParamError("container", "container applies to PCM and G.711 encodings only")
        return None
    if value is None:
        return "raw"
    if value not in ("raw", "wav"):
        raise SpeechParamError("container", "container must be raw or wav")
    return str(value)


def _bit_rate(value: Any, encoding: str, sample_rate: int) -> int | None:
    if encoding != "mp3":
        if value is not None:
            raise SpeechParamError("bit_rate", "bit_rate applies to mp3 only")
        return None
    rate = 64000 if value is None else value
    if isinstance(rate, bool) or rate not in BIT_RATES:
        raise SpeechParamError("bit_rate", f"bit_rate must be one of {sorted(BIT_RATES)}")
    if sample_rate == 8000 and rate > 64000:
        raise SpeechParamError("bit_rate", "bit_rate at 8000 Hz is at most 64000")
    return int(rate)
