"""When Redis is worth asking: a breaker that trips on a failure, logs each change once and lets
Redis be tried again after `RETRY_SECONDS`."""

from __future__ import annotations

import logging
import re
import time

from redis.exceptions import RedisError

log = logging.getLogger("aai_mcp.shared_state")

RETRY_SECONDS = 5.0
# Failures that mean "Redis is not there right now": fall back rather than fail the call.
UNREACHABLE = (RedisError, OSError)
USERINFO_PASSWORD = re.compile(r"^([a-z]+://[^:@/]*:)[^@]*@", re.IGNORECASE)
QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


class Unreachable(Exception):
    """Redis is down (or was a moment ago): use this process's own state."""


def redacted_url(url: str) -> str:
    """The URL with any password (in the authority or a `password=` query item) replaced."""
    url = USERINFO_PASSWORD.sub(r"\1***@", url)
    return QUERY_PASSWORD.sub(r"\1***", url)


class Breaker:
    """Whether Redis is worth asking; each change is logged once."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self._retry_at = 0.0

    @property
    def degraded(self) -> bool:
        return self.down_since is not None

    def open(self) -> bool:
        return self.degraded and time.monotonic() < self._retry_at

    def trip(self, exc: BaseException) -> None:
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning(
                "shared state: Redis unreachable (%s); until it is back, this instance limits calls "
                "and polls transcripts on its own",
                type(exc).__name__,
            )

    def reset(self) -> None:
        if self.down_since is not None:
            self.down_since = None
            log.warning("shared state: Redis reachable again; limits and polling are shared again")
