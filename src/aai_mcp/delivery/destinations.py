"""Where deliveries go: `name=URL#env:VAR` or `name=URL#file:/path` entries (separated by `;`), the
secret read from that variable or file, never written in the setting itself.

A URL may carry credentials (a user:password, a token in its path or query, as chat webhooks do): it
is used to send and never shown. Logs, the CLI and errors name a destination by its name only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MIN_SECRET_CHARS = 16


class DestinationError(ValueError):
    """A destination entry cannot be used; the message names the entry, never its URL or secret."""


@dataclass(frozen=True)
class Destination:
    """One receiver: its name (shown), URL and signing secret (both never shown)."""

    name: str
    url: str = field(repr=False)
    secret: str = field(repr=False)


def parse_destinations(text: str | None, env: Mapping[str, str]) -> dict[str, Destination]:
    """The destinations of the setting's value, by name; DestinationError for a bad entry."""
    destinations: dict[str, Destination] = {}
    entries = [entry.strip() for entry in (text or "").split(";") if entry.strip()]
    for number, entry in enumerate(entries, start=1):
        destination = _destination(number, entry, env)
        if destination.name in destinations:
            raise DestinationError(f"destination {destination.name!r} is named twice")
        destinations[destination.name] = destination
    return destinations


def _destination(number: int, entry: str, env: Mapping[str, str]) -> Destination:
    name, _, rest = entry.partition("=")
    url, _, source = rest.rpartition("#")
    name = name.strip()
    if not _NAME.match(name) or not url or not source:
        raise DestinationError(f"destination entry {number} is not name=URL#env:VAR or name=URL#file:/path")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationError(f"destination {name!r}: the URL must be http:// or https:// with a host")
    return Destination(name, url.strip(), _secret(name, source.strip(), env))


def _secret(name: str, source: str, env: Mapping[str, str]) -> str:
    kind, _, where = source.partition(":")
    if kind == "env":
        value = env.get(where, "").strip()
        if not value:
            raise DestinationError(f"destination {name!r}: environment variable {where} is not set")
    elif kind == "file":
        try:
            value = Path(where).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise DestinationError(f"destination {name!r}: cannot read {where}: {exc.strerror}") from None
    else:
        raise DestinationError(f"destination {name!r}: the secret must be env:VAR or file:/path")
    if len(value) < MIN_SECRET_CHARS:
        raise DestinationError(
            f"destination {name!r}: the secret needs {MIN_SECRET_CHARS} characters or more"
        )
    return value
