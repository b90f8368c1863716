"""Which headers cross the proxy: everything but the credentials and the hop-by-hop ones."""

from __future__ import annotations

from collections.abc import Iterable

from aai_mcp.access.principal import PASSTHROUGH_HEADER
from aai_mcp.access.tokens import HEADER_NAME

RawHeaders = list[tuple[bytes, bytes]]

# RFC 9110 §7.6.1, plus the Proxy-* family: they describe one connection, not the message.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade"})
# The caller's credentials stay here; Host is the upstream's, never the caller's; Expect is answered
# by our own server (httpx does not speak 100-continue to upstream).
NOT_FORWARDED = frozenset(
    {b"authorization", PASSTHROUGH_HEADER.encode(), HEADER_NAME.lower().encode(), b"host", b"expect"}
)

# uvicorn always sends its own Date and Server: upstream's would make two of each (Date is single-valued).
OURS_IN_ANSWERS = frozenset({b"date", b"server"})


def forwarded_request_headers(raw: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """The caller's headers as upstream should see them, before the upstream key is added."""
    headers = list(raw)
    dropped = HOP_BY_HOP | NOT_FORWARDED | _connection_named(headers)
    return [(name, value) for name, value in headers if not _dropped(name, dropped)]


def returned_response_headers(raw: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """Upstream's response headers as the caller should see them."""
    headers = list(raw)
    dropped = HOP_BY_HOP | OURS_IN_ANSWERS | _connection_named(headers)
    return [(name, value) for name, value in headers if not _dropped(name, dropped)]


def _dropped(name: bytes, dropped: frozenset[bytes]) -> bool:
    lowered = name.lower()
    return lowered in dropped or lowered.startswith(b"proxy-")


def _connection_named(headers: RawHeaders) -> frozenset[bytes]:
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b",") if token.strip())
    return frozenset(named)
