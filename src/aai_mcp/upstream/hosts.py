"""Where each AssemblyAI host lives, per region."""

from __future__ import annotations

from aai_mcp.catalog.model import HostName
from aai_mcp.config.settings import Settings

REGION_HOSTS: dict[str, dict[HostName, str]] = {
    "us": {
        "api": "https://api.assemblyai.com",
        "llm_gateway": "https://llm-gateway.assemblyai.com",
        "streaming": "https://streaming.assemblyai.com",
        "agents": "https://agents.assemblyai.com",
        "sync": "https://sync.assemblyai.com",
        "dictation": "https://dictation.assemblyai.com",
        "tts": "https://tts.us.assemblyai.com",
        "token": "https://token.assemblyai.com",
    },
    # The Voice Agent API documents no EU host, so agents stays in the US; nor does the TTS token
    # host (ENDPOINTS-SDK-2026-10.md §3.2). TTS has an EU host (§3.1, types.py:165-166).
    "eu": {
        "api": "https://api.eu.assemblyai.com",
        "llm_gateway": "https://llm-gateway.eu.assemblyai.com",
        "streaming": "https://streaming.eu.assemblyai.com",
        "agents": "https://agents.assemblyai.com",
        # From the docs' OpenAPI (ENDPOINTS-SDK-2026-10.md §1, §2); the SDK itself knows no EU host.
        "sync": "https://sync.eu.assemblyai.com",
        "dictation": "https://dictation.eu.assemblyai.com",
        "tts": "https://tts.eu.assemblyai.com",
        "token": "https://token.assemblyai.com",
    },
}

WEBSOCKET_PATHS: dict[HostName, str] = {"streaming": "/v3/ws", "agents": "/v1/ws", "tts": "/v1/ws"}
# The host whose WebSocket a token minted on this host opens, where they differ.
SOCKET_HOSTS: dict[HostName, HostName] = {"token": "tts"}

SIMULATOR_BASE_URL = "http://simulator.aai-mcp.invalid"
# Sync and Dictation both serve /v1/transcribe/live, so the simulator serves each under its own prefix.
SIMULATOR_PREFIXES: dict[HostName, str] = {"sync": "/sync", "dictation": "/dictation"}


def base_urls(settings: Settings) -> dict[HostName, str]:
    if settings.simulated:
        return {host: SIMULATOR_BASE_URL + SIMULATOR_PREFIXES.get(host, "") for host in REGION_HOSTS["us"]}
    urls = dict(REGION_HOSTS[settings.region])
    overrides: dict[HostName, str | None] = {
        "api": settings.api_base_url,
        "llm_gateway": settings.llm_gateway_base_url,
        "streaming": settings.streaming_base_url,
        "agents": settings.agents_base_url,
        "sync": settings.sync_base_url,
        "dictation": settings.dictation_base_url,
        "tts": settings.tts_base_url,
        "token": settings.token_base_url,
    }
    for host, url in overrides.items():
        if url:
            urls[host] = url.rstrip("/")
    return urls


def socket_host(host: HostName) -> HostName:
    """The host whose WebSocket a token minted on `host` opens (the TTS token's is the TTS host)."""
    return SOCKET_HOSTS.get(host, host)


def websocket_url(base_url: str, host: HostName) -> str:
    scheme, _, rest = base_url.partition("://")
    ws_scheme = "wss" if scheme == "https" else "ws"
    return f"{ws_scheme}://{rest.rstrip('/')}{WEBSOCKET_PATHS.get(host, '/')}"
