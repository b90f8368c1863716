"""Caller input that cannot be served: the error every front door raises for it, and how its text is
quoted in the message (a short prefix, never the whole value).

An error that echoes its input whole lets one request make the server build, send and perhaps
log a reply as large as the request (twice, when a message quotes a value and what contains it).
"""

from __future__ import annotations

QUOTE_CHARS = 64


def quoted(value: str, limit: int = QUOTE_CHARS) -> str:
    """`value` as a Python literal, cut to `limit` characters and marked when cut."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


class ToolInputError(Exception):
    """The caller's arguments cannot be served; the message says what to change."""
