"""When Redis is worth asking: a breaker that trips on a failure, logs each change once and lets
Redis be tried again after `RETRY_SECONDS`."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from redis.exceptions import RedisError

log = logging.getLogger("aai_mcp.shared_state")

RETRY_SECONDS = 5.0
# Failures that mean "Redis is not there right now": fall back rather than fail the call.
UNREACHABLE = (RedisError, OSError)


class Unreachable(Exception):
    """Redis is down (or was a moment ago): use this process's own state."""


def redacted_url(url: str) -> str:
    """The URL with any password (in the authority or a `password=` query item) replaced."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = [
        f"{name}=***" if name.lower() == "password" else f"{name}={value}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query="&".join(query)))


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
