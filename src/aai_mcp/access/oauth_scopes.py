"""OAuth scope strings and the Scopes they stand for, so an OAuth-issued token goes through the same
scope checks as an operator-minted one (one authorization path).

`mcp`: every toolset; `toolset:<name>`: that toolset (several add up); `mcp:read-only`: only tools
that change nothing; `method:<class>`: only tools whose effects are all among the named method classes
(the same classes as `aai-mcp token mint --methods`; none named: every class). The consent page
narrows a request to a subset of these."""

from __future__ import annotations

from collections.abc import Iterable

from aai_mcp.access.scopes import METHOD_CLASSES, Scopes

ALL = "mcp"
READ_ONLY = "mcp:read-only"
TOOLSET_PREFIX = "toolset:"
METHOD_PREFIX = "method:"
DEFAULT_SCOPES = [ALL]


def supported(toolsets: Iterable[str]) -> list[str]:
    """Every scope string this server understands (the metadata's scopes_supported)."""
    return [
        ALL,
        READ_ONLY,
        *(TOOLSET_PREFIX + name for name in toolsets),
        *(METHOD_PREFIX + name for name in METHOD_CLASSES),
    ]


def unknown(requested: Iterable[str], toolsets: Iterable[str]) -> list[str]:
    known = set(supported(toolsets))
    return sorted({scope for scope in requested if scope not in known})


def to_scopes(granted: Iterable[str]) -> Scopes:
    """What a token with these scope strings may call. No `mcp` and no toolset: nothing."""
    granted = set(granted)
    named = frozenset(s[len(TOOLSET_PREFIX) :] for s in granted if s.startswith(TOOLSET_PREFIX))
    toolsets = None if ALL in granted else named
    methods = frozenset(c for c in METHOD_CLASSES if METHOD_PREFIX + c in granted)
    return Scopes(toolsets=toolsets, read_only=READ_ONLY in granted, methods=methods or None)


def offered_methods(requested: Iterable[str]) -> list[str]:
    """The method classes the consent page offers: those asked for, or every class when none was."""
    asked: list[str] = [c for c in METHOD_CLASSES if METHOD_PREFIX + c in set(requested)]
    return asked or list(METHOD_CLASSES)


def narrowed(
    requested: Iterable[str],
    toolsets: Iterable[str],
    read_only: bool,
    methods: Iterable[str] | None = None,
) -> list[str]:
    """The consent page's choice applied to a request: only the ticked toolsets (each one the request
    covered), read-only when ticked or asked for, and the ticked method classes (each one the request
    covered; all of them ticked on a request that named none leaves methods open). Never wider than
    the request."""
    requested = set(requested)
    chosen = [
        TOOLSET_PREFIX + name
        for name in sorted(set(toolsets))
        if ALL in requested or TOOLSET_PREFIX + name in requested
    ]
    if read_only or READ_ONLY in requested:
        chosen.append(READ_ONLY)
    offered = offered_methods(requested)
    ticked = [c for c in offered if methods is None or c in set(methods)]
    if not ticked:
        # No method scope at all would mean every class: refuse rather than widen.
        raise ValueError("choose at least one method class")
    if ticked != list(METHOD_CLASSES) or any(s.startswith(METHOD_PREFIX) for s in requested):
        chosen.extend(METHOD_PREFIX + c for c in ticked)
    return chosen
