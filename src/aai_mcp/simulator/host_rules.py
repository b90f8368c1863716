"""Which AssemblyAI host a path belongs to, and how that host authenticates and errors."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping

from starlette.responses import JSONResponse


class Host(enum.Enum):
    API = "api"
    LLM_GATEWAY = "llm-gateway"
    STREAMING = "streaming"
    AGENTS = "agents"
    TTS = "tts"


AGENT_PATHS = ("/v1/token", "/v1/agents", "/v1/ws")


TTS_PATHS = ("/v1/speech",)


def host_for_path(path: str) -> Host | None:
    """The upstream host serving `path`; `None` for the simulator's own endpoints."""
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
    Host.TTS: "Invalid API key",
}

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


def error_body(
    host: Host | None, status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, object]:
    """The error shape each host uses: llm-gateway nests it, TTS has its own envelope, the others
    are flat."""
    if host is Host.LLM_GATEWAY:
        return {"error": {"code": status, "message": message, "metadata": {}}}
    if host is Host.TTS:
        return tts_error_body(status, message, code, param)
    return {"error": message}


class UpstreamError(Exception):
    """Raised by handlers; rendered in the error shape of the host the path belongs to."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        """`code`, `param`: for hosts whose envelope carries them (TTS)."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.code = code
        self.param = param


def error_response(
    host: Host | None,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    code: str | None = None,
    param: str | None = None,
) -> JSONResponse:
    body = error_body(host, status, message, code, param)
    return JSONResponse(body, status_code=status, headers=headers)


def unauthorized(host: Host) -> JSONResponse:
    return error_response(host, 401, AUTH_MESSAGES[host])
