"""The webhook the gateway asks AssemblyAI for: where (`{public_url}/webhooks/assemblyai`), with which
secret header, and when (capture configured, `webhook_auto` on, the caller named no webhook)."""

from __future__ import annotations

from typing import Any

from aai_mcp.config.settings import Settings

WEBHOOK_PATH = "/webhooks/assemblyai"
TRANSCRIPT_NEWS = "transcript-finished"
"""The shared-state channel where a received webhook wakes every instance's waiters."""


def capture_enabled(settings: Settings) -> bool:
    """Both what AssemblyAI needs to reach the gateway and the secret to prove it is AssemblyAI."""
    return settings.public_url is not None and settings.webhook_auth_header_value is not None


def gateway_webhook_url(settings: Settings) -> str | None:
    return f"{settings.public_url}{WEBHOOK_PATH}" if capture_enabled(settings) else None


def with_gateway_webhook(body: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """`body` (a create-transcript request) with the gateway's webhook, when it should get one; a
    webhook_url the caller gave is theirs and stays untouched."""
    url = gateway_webhook_url(settings)
    if url is None or not settings.webhook_auto or body.get("webhook_url"):
        return body
    assert settings.webhook_auth_header_value is not None  # capture_enabled
    return {
        **body,
        "webhook_url": url,
        "webhook_auth_header_name": settings.webhook_auth_header_name,
        "webhook_auth_header_value": settings.webhook_auth_header_value.get_secret_value(),
    }
