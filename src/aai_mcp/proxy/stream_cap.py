"""How long one streaming session through the proxy may last: the seam per-team limits plug into."""

from __future__ import annotations

from aai_mcp.gateway import Gateway


def session_cap_seconds(gateway: Gateway, account: str) -> float | None:
    """Seconds after which `account`'s streaming session is ended; None: no cap of ours."""
    del account  # every team has the server-wide cap until per-team quotas set their own
    return gateway.settings.proxy_stream_max_seconds
