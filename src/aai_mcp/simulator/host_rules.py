"""Which AssemblyAI host a path belongs to, and how that host authenticates and errors."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from http import HTTPStatus

from starlette.responses import JSONResponse


class Host(enum.Enum):
    API = "api"
    LLM_GATEWAY = "llm-gateway"
    STREAMING = "streaming"
    AGENTS = "agents"
    SYNC = "sync"
    DICTATION = "dictation"
    TTS = "tts"


AGENT_PATHS = ("/v1/token", "/v1/agents", "/v1/ws")
# Sync and Dictation both serve /v1/transcribe/live: the simulator serves each under a prefix named
# for its host (a request to sync.assemblyai.com itself is moved under it: app.HostPrefixes).
PREFIXED_HOSTS = {"/sync": Host.SYNC, "/dictation": Host.DICTATION}


TTS_PATHS = ("/v1/speech",)


def host_for_path(path: str) -> Host | None:
    """The upstream host serving `path`; `None` for the simulator's own endpoints."""
    for prefix, host in PREFIXED_HOSTS.items():
        if path.startswith(prefix + "/"):
            return host
    if any(path == p or path.startswith(p + "/") for p in TTS_PATHS):
        return Host.TTS
    if path == "/v2" or path.startswith(("/v2/", "/lemur/")):
        return Host.API
    if path.startswith("/v3/"):
        return Host.STREAMING
    if any(path == p or path.startswith(p + "/") for p in AGENT_PATHS):
        return Host.AGENTS
    if path.startswith("/v1/"):
        return Host.LLM_GATEWAY
    return None


def presented_key(host: Host, header: str | None) -> str | None:
    """The key an Authorization header carries in a form `host` takes: api and streaming want the
    bare key; llm-gateway and agents also take `Bearer <key>`."""
    if not header:
        return None
    if host in (Host.LLM_GATEWAY, Host.AGENTS):
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer":
            return token.strip()
    return header


AUTH_MESSAGES = {
    Host.API: "Authentication error, API token missing/invalid",
    Host.LLM_GATEWAY: "Invalid API key",
    Host.STREAMING: "Invalid API key",
    Host.AGENTS: "Invalid API key",
    Host.SYNC: "Invalid API key",
    Host.DICTATION: "Invalid API key",
    Host.TTS: "Invalid API key",
}
# The one-request APIs answer RFC 9457 problem details (SDK 1.8.2 sync/v1/api.py:25-78).
PROBLEM_HOSTS = frozenset({Host.SYNC, Host.DICTATION})

TOO_MANY_REQUESTS = "Too Many Requests"


# The TTS envelope's stable codes by status, where a handler named none (tts/v1/models.py:39-58).
TTS_CODES = {
    400: "invalid_parameter",
    401: "unauthorized",
    404: "not_found",
    429: "rate_limited",
    503: "at_capacity",
    504: "session_expired",
}
TTS_RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


def tts_error_body(status: int, message: str, code: str | None, param: str | None) -> dict[str, object]:
    """TTS's one envelope (ENDPOINTS-SDK-2026-10.md §3.1 "Errors", tts/v1/api.py:79-132)."""
    body: dict[str, object] = {
        "code": code or TTS_CODES.get(status, "internal_error"),
        "message": message,
        "param": param,
        "request_id": str(uuid.uuid4()),
        "retryable": status in TTS_RETRYABLE,
    }
    if param is not None and body["code"] == "invalid_parameter":
        body["errors"] = [{"message": message, "param": param}]
    return body


# The gateway's `code` for a business error, by status (the SDK reads `message`, not the code).
GATEWAY_CODES = {400: "invalid_request", 404: "not_found", 429: "rate_limited", 500: "internal_error"}


def error_body(
    host: Host | None,
    status: int,
    message: str,
    errors: Sequence[str] = (),
    code: str | None = None,
    param: str | None = None,
) -> dict[str, object]:
    """The error shape each host uses. The LLM Gateway follows the 2026-10 SDK (`llm_gateway/v1/api.py:
    15-54`), newer than the 2026-03 spec's nested `{"error": {...}}`: its auth middleware answers 401
    with `{"error", "status", "request_id"}`, its handlers with `{"message", "code", "request_id",
    "metadata": {"errors"}}`. Sync and Dictation answer problem details, TTS its own envelope; the
    other hosts are flat."""
    if host is Host.TTS:
        return tts_error_body(status, message, code, param)
    if host in PROBLEM_HOSTS:
        return problem(status, _phrase(status), message)
    if host is not Host.LLM_GATEWAY:
        return {"error": message}
    request_id = str(uuid.uuid4())
    if status == 401:
        return {"error": message, "status": status, "request_id": request_id}
    code = GATEWAY_CODES.get(status, "error")
    return {"message": message, "code": code, "request_id": request_id, "metadata": {"errors": list(errors)}}


def problem(status: int, title: str, detail: str) -> dict[str, object]:
    """Problem details; the SDK reads `title` in snake_case as the error code ("Audio Too Large")."""
    return {"status": status, "title": title, "detail": detail}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class UpstreamError(Exception):
    """Raised by handlers; rendered in the error shape of the host the path belongs to."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[str] = (),
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        """`errors`: the gateway's validation messages; `code`, `param`: for hosts whose envelope
        carries them (TTS)."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.errors = list(errors)
        self.code = code
        self.param = param


def error_response(
    host: Host | None,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[str] = (),
    *,
    code: str | None = None,
    param: str | None = None,
) -> JSONResponse:
    body = error_body(host, status, message, errors, code, param)
    return JSONResponse(body, status_code=status, headers=headers)


def unauthorized(host: Host) -> JSONResponse:
    return error_response(host, 401, AUTH_MESSAGES[host])
