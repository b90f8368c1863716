"""OAuth scope strings and the Scopes they stand for, so an OAuth-issued token goes through the same
scope checks as an operator-minted one (one authorization path).

`mcp`: every toolset; `toolset:<name>`: that toolset (several add up); `mcp:read-only`: only tools
that change nothing. The consent page narrows a request to a subset of these."""

from __future__ import annotations

from collections.abc import Iterable

from aai_mcp.access.scopes import Scopes

ALL = "mcp"
READ_ONLY = "mcp:read-only"
TOOLSET_PREFIX = "toolset:"
DEFAULT_SCOPES = [ALL]


def supported(toolsets: Iterable[str]) -> list[str]:
    """Every scope string this server understands (the metadata's scopes_supported)."""
    return [ALL, READ_ONLY, *(TOOLSET_PREFIX + name for name in toolsets)]


def unknown(requested: Iterable[str], toolsets: Iterable[str]) -> list[str]:
    known = set(supported(toolsets))
    return sorted({scope for scope in requested if scope not in known})


def to_scopes(granted: Iterable[str]) -> Scopes:
    """What a token with these scope strings may call. No `mcp` and no toolset: nothing."""
    granted = set(granted)
    named = frozenset(s[len(TOOLSET_PREFIX) :] for s in granted if s.startswith(TOOLSET_PREFIX))
    toolsets = None if ALL in granted else named
    return Scopes(toolsets=toolsets, read_only=READ_ONLY in granted)


def narrowed(requested: Iterable[str], toolsets: Iterable[str], read_only: bool) -> list[str]:
    """The consent page's choice applied to a request: only the ticked toolsets (each one the request
    covered), and read-only when ticked or asked for. Never wider than the request."""
    requested = set(requested)
    chosen = [
        TOOLSET_PREFIX + name
        for name in sorted(set(toolsets))
        if ALL in requested or TOOLSET_PREFIX + name in requested
    ]
    if read_only or READ_ONLY in requested:
        chosen.append(READ_ONLY)
    return chosen
