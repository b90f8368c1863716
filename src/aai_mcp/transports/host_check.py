"""DNS-rebinding protection: the Host (and Origin, when sent) of every request, parsed and matched exactly.

The SDK's own check matches `host:*` patterns by prefix, so `127.0.0.1:80@evil.com` passed it; and it
runs inside the MCP endpoints, after Starlette's trailing-slash redirect has already echoed the Host
back in a Location. This middleware sits in front of all routing instead.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from aai_mcp.proxy import PROXY_PREFIX
from aai_mcp.uplink.routes import LINK_PREFIX

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::")
_AUTHORITY = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(?P<port>[0-9]{1,5}))?")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_ORIGIN = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<authority>[^/?#@\s]+)")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class Authority:
    """A host name (lower case) or IP literal (canonical; IPv6 in brackets) and an optional port."""

    name: str
    port: int | None = None

    @property
    def is_loopback(self) -> bool:
        if self.name == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.name.strip("[]")).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class Origin:
    scheme: str
    authority: Authority


def parse_host(value: str) -> Authority | None:
    """`name[:port]` with name a DNS name or IP literal and port 1-65535; None for anything else."""
    match = _AUTHORITY.fullmatch(value)
    if match is None:
        return None
    name = _canonical_name(match["name"])
    port = int(match["port"]) if match["port"] else None
    if name is None or (port is not None and not 1 <= port <= 65535):
        return None
    return Authority(name, port)


def _canonical_name(name: str) -> str | None:
    if name.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(name[1:-1]).compressed}]"
        except ValueError:
            return None
    if all(part.isdigit() for part in name.split(".")):
        # All digits: an IPv4 address or nothing (a resolver may read `127.1` as 127.0.0.1).
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            return None
    lowered = name.lower()
    if len(lowered) > 253 or not all(_LABEL.fullmatch(label) for label in lowered.split(".")):
        return None
    return lowered


def parse_origin(value: str) -> Origin | None:
    """`scheme://host[:port]` and nothing more (no path, no user info); default ports dropped."""
    match = _ORIGIN.fullmatch(value.lower())
    authority = parse_host(match["authority"]) if match else None
    if match is None or authority is None:
        return None
    scheme = match["scheme"]
    if authority.port == _DEFAULT_PORTS.get(scheme):
        authority = Authority(authority.name)
    return Origin(scheme, authority)


@dataclass(frozen=True)
class AllowedHost:
    """A name and its port, or any port when `port` is None."""

    name: str
    port: int | None = None

    def admits(self, authority: Authority) -> bool:
        return authority.name == self.name and (self.port is None or authority.port == self.port)


@dataclass(frozen=True)
class AllowedOrigin:
    """An exact origin, or one on any port of its host when `any_port`."""

    origin: Origin
    any_port: bool = False

    def admits(self, origin: Origin) -> bool:
        if self.any_port:
            return (origin.scheme, origin.authority.name) == (self.origin.scheme, self.origin.authority.name)
        return origin == self.origin


def allowed_host(entry: str) -> AllowedHost:
    """A configured host: `name` (any port), `name:port`, or `name:*` (any port, as the SDK wrote it)."""
    authority = parse_host(entry.removesuffix(":*"))
    if authority is None:
        raise ValueError(f"allowed host {entry!r} is not a host name or IP address with an optional port")
    return AllowedHost(authority.name, authority.port)


def allowed_origin(entry: str) -> AllowedOrigin:
    """A configured origin: `scheme://host[:port]` exactly, or `scheme://host:*` for any port."""
    origin = parse_origin(entry.removesuffix(":*"))
    if origin is None:
        raise ValueError(f"allowed origin {entry!r} is not of the form scheme://host[:port]")
    return AllowedOrigin(origin, any_port=entry.endswith(":*"))


@dataclass(frozen=True)
class HostPolicy:
    hosts: tuple[AllowedHost, ...]
    origins: tuple[AllowedOrigin, ...]

    def host_allowed(self, value: str) -> bool:
        authority = parse_host(value)
        return authority is not None and any(allowed.admits(authority) for allowed in self.hosts)

    def origin_allowed(self, value: str) -> bool:
        origin = parse_origin(value)
        return origin is not None and any(allowed.admits(origin) for allowed in self.origins)


def host_policy(bind_host: str, extra_hosts: Sequence[str], extra_origins: Sequence[str]) -> HostPolicy:
    """Loopback names and the bind address (when it is one address) on any port, plus configured extras.

    ValueError when an extra is not a host or origin."""
    names = list(LOOPBACK_NAMES)
    if bind_host not in WILDCARD_BINDS:
        names.append(f"[{bind_host}]" if ":" in bind_host else bind_host)
    own = [allowed_host(name) for name in names]
    own_origins = [allowed_origin(f"{scheme}://{name}:*") for name in names for scheme in ("http", "https")]
    return HostPolicy(
        hosts=(*own, *(allowed_host(entry) for entry in extra_hosts)),
        origins=(*own_origins, *(allowed_origin(entry) for entry in extra_origins)),
    )


def _values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in headers if key.lower() == name]


class HostCheck:
    """Answers 421 to a Host, and 403 to an Origin, that is not allowed, before any route or redirect;
    400 to a request with both Content-Length and Transfer-Encoding. Each refusal closes the connection.

    A request must carry exactly one Host; two of either header are refused rather than guessing
    which one the application behind a proxy would read."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope["headers"], scope["path"])
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocketClose(code=1008)(scope, receive, send)
        else:
            status, code, message = refusal
            # Closed: after a request framed two ways, what follows on the connection is not trusted.
            await JSONResponse(
                refusal_body(scope["path"], code, message),
                status_code=status,
                headers={"Connection": "close"},
            )(scope, receive, send)

    def _refusal(self, headers: list[tuple[bytes, bytes]], path: str) -> tuple[int, str, str] | None:
        if _values(headers, b"content-length") and _values(headers, b"transfer-encoding"):
            # h11 lets chunked win; a proxy in front that trusts Content-Length would see the rest
            # of this body as a second request it never checked (request smuggling).
            return 400, "ambiguous_length", "Send Content-Length or Transfer-Encoding, not both"
        hosts = _values(headers, b"host")
        if len(hosts) != 1 or not self.policy.host_allowed(hosts[0]):
            # The value is the caller's: not logged (it may be built to forge log lines).
            logger.debug("refused a request with a Host header that is not allowed")
            return 421, "invalid_host", "Invalid Host header"
        origins = _values(headers, b"origin")
        if _is_upload_link(path):
            # The link in the path is the credential, not the browser's place: a page rebound to this
            # address has none, and the upload widget sends from the chat host's own origin.
            return None
        if origins and (len(origins) > 1 or not self.policy.origin_allowed(origins[0])):
            logger.debug("refused a request with an Origin header that is not allowed")
            return 403, "invalid_origin", "Invalid Origin header"
        return None


def _is_upload_link(path: str) -> bool:
    return path.startswith(LINK_PREFIX + "/")


def refusal_body(path: str, code: str, message: str) -> dict[str, object]:
    """The team proxy answers in AssemblyAI's own shape (a message both official SDKs show, the code
    beside it: proxy/refusals.py); every other route in the gateway's `{"error": {code, message}}`."""
    if path == PROXY_PREFIX or path.startswith(PROXY_PREFIX + "/"):
        return {"error": message, "code": code}
    return {"error": {"code": code, "message": message}}
