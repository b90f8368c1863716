"""Each instance's copy of the key pool's key states (cooling down, disabled), so choosing a key reads
no store: a change this instance makes is written to the store and published on the shared state's
`key-states` channel; every instance applies what it hears at once, and reads the store again at most
every `refresh_seconds` as a backstop (a message lost while Redis was down, an instance without Redis,
an operator's `aai-mcp keys enable` from a process that could not publish).

So a 429, a 401/403 or `keys enable` reaches every running instance as fast as a Redis message when
they share Redis, and within `refresh_seconds` (REFRESH_SECONDS by default) in any case.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskStatus

from aai_mcp.state.shared import Message, SharedState
from aai_mcp.state.store import KeyPoolStore, KeyState, failure_reason, store_errors

CHANNEL = "key-states"
# The longest a change published nowhere (or lost) takes to reach every instance.
REFRESH_SECONDS = 5.0
log = logging.getLogger("aai_mcp.key_pool")


def enabled_message(name: str) -> Message:
    """What `aai-mcp keys enable NAME` publishes so running instances use the key again at once."""
    return {"key": name, "state": "enabled"}


class KeyStates:
    """The key states of one instance, kept in step with the store and the other instances."""

    def __init__(
        self,
        store: KeyPoolStore,
        shared: SharedState | None,
        refresh_seconds: float = REFRESH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.shared = shared
        self.refresh_seconds = refresh_seconds
        self.monotonic = monotonic
        self._states: dict[str, KeyState] = {}
        self._read_at: float | None = None
        self._heard = anyio.Event()

    async def current(self) -> dict[str, KeyState]:
        """The states as this instance knows them; read from the store when older than the refresh."""
        if self._read_at is None or self.monotonic() - self._read_at >= self.refresh_seconds:
            # Stamped first: while the store is down, one request per refresh pays for trying.
            self._read_at = self.monotonic()
            try:
                self._states = await anyio.to_thread.run_sync(self.store.key_states)
            except store_errors() as exc:
                # The pool still picks a key without the store, from what it last knew.
                log.warning("key pool: the store could not be read: %s", failure_reason(exc))
        return self._states

    def known(self, name: str) -> KeyState | None:
        """What this instance knows of `name` right now, without reading the store."""
        return self._states.get(name)

    async def cool(self, name: str, until: float) -> None:
        await self._change(
            {"key": name, "state": "cooling", "until": until}, lambda: self.store.cool_key(name, until)
        )

    async def disable(self, name: str, reason: str) -> None:
        await self._change(
            {"key": name, "state": "disabled", "reason": reason}, lambda: self.store.disable_key(name, reason)
        )

    async def _change(self, message: Message, write: Callable[[], None]) -> None:
        self.apply(message)
        try:
            await anyio.to_thread.run_sync(write)
        except store_errors() as exc:
            log.warning("key pool: the store could not be written: %s", failure_reason(exc))
        if self.shared is not None:
            await self.shared.publish(CHANNEL, message)

    def apply(self, message: Message) -> None:
        """A change made here or heard from another instance; anything malformed is ignored."""
        name, state = message.get("key"), message.get("state")
        if not isinstance(name, str):
            return
        known = self._states.get(name, KeyState(name))
        if state == "enabled":
            self._states.pop(name, None)
        elif state == "cooling" and _is_number(message.get("until")):
            until = float(message["until"])
            longer = max(until, known.cooling_until or until)  # as in the store: never shortened
            self._states[name] = dataclasses.replace(known, cooling_until=longer)
        elif state == "disabled" and isinstance(message.get("reason"), str):
            reason = known.disabled_reason or message["reason"]  # as in the store: the first reason stays
            self._states[name] = dataclasses.replace(known, disabled_reason=reason)

    async def follow(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Apply the other instances' changes as they are published, until cancelled; started once
        subscribed, so nothing published after the start is missed."""
        if self.shared is None:
            task_status.started()
            return
        async with self.shared.subscribe(CHANNEL) as messages:
            task_status.started()
            async for message in messages:
                self.apply(message)
                self._heard.set()
                self._heard = anyio.Event()

    async def heard(self) -> None:
        """Returns once the next published change has been applied (for tests and tools to await)."""
        await self._heard.wait()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
