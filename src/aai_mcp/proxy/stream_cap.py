"""How long one streaming session through the proxy may last: the seam per-team limits plug into."""

from __future__ import annotations

from aai_mcp.gateway import Gateway


def session_cap_seconds(gateway: Gateway, account: str) -> float | None:
    """Seconds after which `account`'s streaming session is ended: the server-wide cap, or the team's
    own `stream_seconds` quota when that is shorter; None: no cap of ours."""
    caps = (gateway.settings.proxy_stream_max_seconds, gateway.quotas.stream_session_seconds(account))
    known = [cap for cap in caps if cap is not None]
    return min(known) if known else None
