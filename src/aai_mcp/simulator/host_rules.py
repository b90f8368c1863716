"""Which AssemblyAI host a path belongs to, and how that host authenticates and errors."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from starlette.responses import JSONResponse


class Host(enum.Enum):
    API = "api"
    LLM_GATEWAY = "llm-gateway"
    STREAMING = "streaming"
    AGENTS = "agents"


AGENT_PATHS = ("/v1/token", "/v1/agents", "/v1/ws")


def host_for_path(path: str) -> Host | None:
    """The upstream host serving `path`; `None` for the simulator's own endpoints."""
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
}

TOO_MANY_REQUESTS = "Too Many Requests"


def error_body(host: Host | None, status: int, message: str) -> dict[str, object]:
    """The error shape each host uses: llm-gateway nests it, the others are flat."""
    if host is Host.LLM_GATEWAY:
        return {"error": {"code": status, "message": message, "metadata": {}}}
    return {"error": message}


class UpstreamError(Exception):
    """Raised by handlers; rendered in the error shape of the host the path belongs to."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    host: Host | None, status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(host, status, message), status_code=status, headers=headers)


def unauthorized(host: Host) -> JSONResponse:
    return error_response(host, 401, AUTH_MESSAGES[host])
