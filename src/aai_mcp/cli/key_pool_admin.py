"""`aai-mcp keys list | enable NAME`: the upstream key pool as every instance sees it in the store.

Only key names are shown (account/VAR or account/file), never key values. Exit codes: 0 done, 1 the
store cannot be reached or the key had no state, 2 the configuration is wrong.
"""

from __future__ import annotations

import sys
import time

from aai_mcp.cli.store_session import with_store
from aai_mcp.config.settings import Settings
from aai_mcp.state.store import KeyState


def list_keys(settings: Settings) -> int:
    from aai_mcp.access.accounts import AccountsError, load_key_pools

    try:
        pools = load_key_pools(settings.accounts, settings.api_key)
    except AccountsError as exc:
        return _error(str(exc), 2)
    states = with_store("keys", settings, lambda store: store.key_states())
    if states is None:
        return 1
    now = time.time()
    for pool in pools.values():
        for key in pool:
            print(f"{key.name}\tweight {key.weight}\t{_shown_state(states.get(key.name), now)}")
    return 0


def enable_key(settings: Settings, name: str) -> int:
    enabled = with_store("keys", settings, lambda store: store.enable_key(name))
    if enabled is None:
        return 1
    if not enabled:
        return _error(f"{name} was neither disabled nor cooling down", 1)
    import anyio

    from aai_mcp.upstream.key_states import REFRESH_SECONDS

    told = anyio.run(_tell_instances, settings, name)
    when = (
        "from its next request"
        if told
        else f"within {REFRESH_SECONDS:.0f} s (no shared state to tell it at once)"
    )
    print(f"{name}: enabled (every instance uses it again {when})")
    return 0


async def _tell_instances(settings: Settings, name: str) -> bool:
    """Publish the change where running instances listen (Redis); False when there is no Redis, or it
    could not be reached: they then read the store again within REFRESH_SECONDS."""
    from aai_mcp.state.shared import build_shared_state
    from aai_mcp.upstream.key_states import CHANNEL, enabled_message

    if settings.redis_url is None:
        return False
    shared = build_shared_state(settings)
    try:
        await shared.publish(CHANNEL, enabled_message(name))
        return shared.status == "redis"
    finally:
        await shared.aclose()


def _shown_state(state: KeyState | None, now: float) -> str:
    if state is not None and state.disabled:
        return f"disabled ({state.disabled_reason}): `aai-mcp keys enable` brings it back"
    if state is not None and state.cooling_until is not None and state.cooling_until > now:
        return f"cooling down for {int(state.cooling_until - now) + 1} s"
    return "usable"


def _error(message: str, code: int) -> int:
    print(f"aai-mcp keys: {message}", file=sys.stderr)
    return code
