"""The Sync STT and Dictation APIs: one multipart request (config part first, then audio), the
transcript in the answer. Rules and limits follow ENDPOINTS-SDK-2026-10.md §1-2 (SDK 1.8.2 and the
docs it cites), which win over the older ENDPOINTS.md."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .account_state import Simulator
from .host_rules import problem
from .script import SUPPORT_CALL
from .wav import WavProbe

SYNC_MODELS = frozenset({"universal-3-5-pro"})
MAX_AUDIO_BYTES = 40_000_000
MAX_AUDIO_MS = 120_000
MIN_AUDIO_MS = 80
WORDS_PER_SECOND = 2.5
DICTATION_KEYS = frozenset(
    {
        "sample_rate",
        "channels",
        "language_codes",
        "stt_prompt",
        "keyterms_prompt",
        "llm_instruction",
        "rewrite_mode",
    }
)
SYNC_KEYS = frozenset(
    {
        "prompt",
        "keyterms_prompt",
        "conversation_context",
        "language_codes",
        "sample_rate",
        "channels",
        "timestamps",
    }
)
TEXT_CAPS = {"prompt": 6000, "stt_prompt": 6000, "llm_instruction": 2048}
ENTITY_RE = re.compile(r"\{\w+:([^}]*)\}")
SCRIPT_WORDS = " ".join(ENTITY_RE.sub(r"\1", line) for _, _, line in SUPPORT_CALL).split()


class Refusal(Exception):
    """An answer in problem details, the Sync and Dictation APIs' error shape."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail

    def response(self) -> Response:
        return JSONResponse(problem(self.status, self.title, self.detail), status_code=self.status)


def bad_request(detail: str) -> Refusal:
    return Refusal(400, "Bad Request", detail)


def parts_in_order(content_type: str, body: bytes) -> list[tuple[str, str, bytes]]:
    """(name, content type, content) of each multipart part, in the order they arrived."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or match is None:
        raise bad_request("The body must be multipart/form-data with a config part and an audio part.")
    delimiter = b"--" + match.group(1).encode()
    parts = []
    for piece in body.split(delimiter)[1:]:
        if piece.startswith(b"--"):
            break
        head, _, content = piece.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = head.decode("latin-1").lower()
        name = re.search(r'name="([^"]*)"', headers)
        kind = re.search(r"content-type:\s*([^\r\n;]+)", headers)
        parts.append((name.group(1) if name else "", kind.group(1).strip() if kind else "", content[:-2]))
    return parts


def config_then_audio(parts: list[tuple[str, str, bytes]]) -> tuple[dict[str, Any], str, bytes]:
    names = [name for name, _, _ in parts]
    if "audio" not in names:
        raise bad_request("No audio part in the request.")
    if "config" in names and names.index("config") > names.index("audio"):
        # The server decodes as bytes arrive: audio before its config is refused (SDK _multipart.py:65-74).
        raise bad_request("The config part must come before the audio part.")
    config: dict[str, Any] = {}
    if "config" in names:
        try:
            config = json.loads(parts[names.index("config")][2] or b"{}")
        except ValueError:
            raise bad_request("The config part is not valid JSON.") from None
        if not isinstance(config, dict):
            raise bad_request("The config part must be a JSON object.")
    _, audio_type, audio = parts[names.index("audio")]
    return config, audio_type, audio


def checked_config(config: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise bad_request(f"Unknown config fields: {', '.join(unknown)}.")
    for name, cap in TEXT_CAPS.items():
        if isinstance(config.get(name), str) and len(config[name]) > cap:
            raise bad_request(f"{name} is longer than {cap} characters.")
    terms = config.get("keyterms_prompt") or []
    if len(terms) > 100 or sum(len(str(term)) for term in terms) > 8000:
        raise bad_request("keyterms_prompt takes at most 100 terms and 8000 characters.")


def audio_ms(audio_type: str, audio: bytes, config: dict[str, Any]) -> int:
    if len(audio) > MAX_AUDIO_BYTES:
        raise Refusal(413, "Audio Too Large", "Audio is larger than 40 MB.")
    if audio_type == "audio/pcm":
        rate, channels = config.get("sample_rate"), config.get("channels")
        if not isinstance(rate, int) or channels not in (1, 2) or rate <= 0:
            raise Refusal(400, "Bad Audio", "Raw PCM needs sample_rate and channels in the config.")
        duration = len(audio) * 1000 // (rate * int(channels) * 2)
    else:
        probe = WavProbe()
        probe.feed(audio)
        found = probe.duration_ms(len(audio))
        if found is None:
            raise Refusal(415, "Unsupported Media Type", "Audio must be WAV or raw 16-bit PCM.")
        duration = found
    if duration > MAX_AUDIO_MS:
        raise Refusal(413, "Audio Too Large", "Audio is longer than 120 seconds.")
    if duration < MIN_AUDIO_MS:
        raise Refusal(400, "Audio Too Short", "Audio is shorter than 80 ms.")
    return duration


def spoken_words(duration_ms: int, timestamps: bool) -> list[dict[str, Any]]:
    count = max(1, int(duration_ms / 1000 * WORDS_PER_SECOND))
    step = duration_ms // count
    return [
        {
            "text": SCRIPT_WORDS[index % len(SCRIPT_WORDS)],
            "confidence": 0.97,
            "start": index * step if timestamps else None,
            "end": (index + 1) * step if timestamps else None,
        }
        for index in range(count)
    ]


async def _read(request: Request, allowed: frozenset[str]) -> tuple[dict[str, Any], int]:
    parts = parts_in_order(request.headers.get("content-type", ""), await request.body())
    config, audio_type, audio = config_then_audio(parts)
    checked_config(config, allowed)
    return config, audio_ms(audio_type, audio, config)


def _answer(simulator: Simulator, duration: int, words: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "text": " ".join(word["text"] for word in words),
        "confidence": 0.97,
        "audio_duration_ms": duration,
        "session_id": simulator.new_id(),
        "request_time_ms": 42.0,
    }


async def sync_transcribe(request: Request) -> Response:
    simulator: Simulator = request.app.state.simulator
    try:
        model = request.headers.get("x-aai-model")
        if model not in SYNC_MODELS:
            raise bad_request("X-AAI-Model must name a Sync model (universal-3-5-pro).")
        config, duration = await _read(request, SYNC_KEYS)
    except Refusal as refusal:
        return refusal.response()
    words = spoken_words(duration, bool(config.get("timestamps")))
    return JSONResponse({**_answer(simulator, duration, words), "words": words})


def rewrite(text: str, instruction: str | None) -> str:
    """The simulated LLM pass: a cleanup by default, a bulleted list when asked for one."""
    if instruction and ("list" in instruction.lower() or "bullet" in instruction.lower()):
        return "\n".join(f"- {sentence.strip()}" for sentence in text.split(".") if sentence.strip())
    return text[:1].upper() + text[1:]


async def dictation_transcribe(request: Request) -> Response:
    simulator: Simulator = request.app.state.simulator
    try:
        config, duration = await _read(request, DICTATION_KEYS)
    except Refusal as refusal:
        return refusal.response()
    words = [{"text": w["text"], "confidence": w["confidence"]} for w in spoken_words(duration, False)]
    answer = _answer(simulator, duration, words)
    llm = rewrite(answer["text"], config.get("llm_instruction"))
    return JSONResponse(
        {**answer, "words": words, "llm_response": llm, "llm_error": None, "sync_time_ms": 30.0}
    )


async def warm(request: Request) -> Response:
    return JSONResponse({"warm": "toasty"})


INSTANT_ROUTES = [
    *(
        Route(f"/sync{path}", sync_transcribe, methods=["POST"])
        for path in ("/v1/transcribe/live", "/v1/transcribe/stream", "/v1/transcribe", "/transcribe")
    ),
    Route("/sync/v1/warm", warm, methods=["GET"]),
    Route("/sync/warm", warm, methods=["GET"]),
    *(
        Route(f"/dictation{path}", dictation_transcribe, methods=["POST"])
        for path in ("/v1/transcribe/live", "/v1/transcribe/stream", "/v1/transcribe")
    ),
    Route("/dictation/v1/warm", warm, methods=["GET"]),
]
