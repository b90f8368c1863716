"""Which AssemblyAI key a proxied request is sent with when its account has no pool (one key, or a
passthrough caller's own); pooled accounts choose through upstream/pooled_send.py."""

from __future__ import annotations

from aai_mcp.access.principal import Principal
from aai_mcp.config.settings import Settings
from aai_mcp.proxy.allowlist import Target


def upstream_key(principal: Principal, target: Target, settings: Settings) -> str:
    """The caller's own key in passthrough mode, else its account's, else the server's key (the
    simulator's when none is set). `target` is unused: affinity matters only within a pool."""
    del target
    if principal.api_key is not None:
        return principal.api_key.get_secret_value()
    return settings.api_key_value()
