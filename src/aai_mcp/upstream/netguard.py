"""Refuse URLs that point into the server's own network (SSRF) before anything is sent, and connect
only to the address that was checked."""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable

import anyio
import anyio.to_thread
import httpcore
import httpx
from anyio.lowlevel import RunVar
from httpcore._backends.base import SOCKET_OPTION

from aai_mcp.caller_input import ToolInputError, quoted
from aai_mcp.upstream.errors import ErrorKind, UpstreamError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# IPv6 ranges that carry an IPv4 address in their last 32 bits: IPv4-compatible, IPv4-translated
# (SIIT, RFC 2765) and NAT64's well-known prefix (RFC 6052). Local-use NAT64 (64:ff9b:1::/48, RFC 8215)
# puts it where the local prefix length says, so it cannot be read back: it is refused as a whole.
EMBEDDING_IPV4 = tuple(ipaddress.IPv6Network(net) for net in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96"))
# Only IPv6's global unicast space is routed on the internet; an allow-list, so a range Python's
# is_global does not know yet (SRv6 5f00::/16, local-use NAT64) is refused rather than trusted.
GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
# Inside it and not global, though Python 3.11's is_global says so: documentation (RFC 9637).
NOT_GLOBAL = (ipaddress.IPv6Network("3fff::/20"),)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, compatible, translated, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None or address.sixtofour is not None:
        return address.ipv4_mapped or address.sixtofour
    if any(address in network for network in EMBEDDING_IPV4):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return address.is_global and not address.is_multicast
    if (inner := embedded_ipv4(address)) is not None:
        return is_public(inner)  # the packet ends up at the IPv4 address, whatever the IPv6 one says
    return (
        address in GLOBAL_UNICAST
        and address.is_global
        and not any(address in network for network in NOT_GLOBAL)
    )


# One text for every refused host, resolvable or not: which one it was would map the inside network.
REFUSED = (
    "Refused: upload_file only fetches public http(s) URLs, and this URL's host is unknown or leads to "
    "a private, loopback, link-local or otherwise internal address. Nothing was sent to it."
)


DNS_FAILED = (
    "Looking up the URL's host failed for now (the DNS servers gave no answer); nothing was sent. "
    "A retry may help."
)


def parse_url(url: str) -> httpx.URL:
    """The URL as the download will use it, or ToolInputError if it is not a plain http(s) URL."""
    try:
        parsed = httpx.URL(url)  # what the download will use; urlsplit alone would drop CR/LF silently
    except (httpx.InvalidURL, ValueError):
        raise ToolInputError(f"Refused: {quoted(url)} is not a valid URL.") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise ToolInputError(f"Only http(s) URLs with a host can be fetched, not {quoted(url)}.")
    if parsed.userinfo:
        raise ToolInputError("URLs with credentials in them are not fetched.")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ToolInputError(f"Refused: {quoted(url)} is not a valid URL (port out of range).")
    return parsed


class Pins:
    """Each host a download may reach, bound to the addresses that were checked for it.

    Connections go only to those addresses (see PinnedBackend), so a name that resolves to a public
    address when checked and to an internal one a moment later (DNS rebinding) never reaches inside.
    """

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.addresses: dict[str, list[IPAddress]] = {}

    async def check(self, url: str) -> httpx.URL:
        """Parse `url`, resolve its host once and pin it, or refuse before anything is sent."""
        parsed = parse_url(url)
        host = parsed.raw_host.decode("ascii")
        if host not in self.addresses:
            self.addresses[host] = await self._vetted(
                host, parsed.port or (443 if parsed.scheme == "https" else 80)
            )
        return parsed

    async def _vetted(self, host: str, port: int) -> list[IPAddress]:
        addresses = await resolve(host, port)
        # Every address must pass: a name answering public and private at once is refused too.
        if not addresses or not (self.allow_private or all(is_public(address) for address in addresses)):
            raise UpstreamError(REFUSED, kind=ErrorKind.URL_REFUSED)
        return addresses


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Dials only pinned addresses. TLS still verifies (and sends SNI for) the URL's host name,
    because httpcore takes those from the request, not from the address dialled."""

    def __init__(self, pins: Pins, dialer: httpcore.AsyncNetworkBackend) -> None:
        self.pins = pins
        self.dialer = dialer

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self.pins.addresses.get(host)
        if not addresses:
            raise httpcore.ConnectError("host was not checked")  # a bug: every URL is checked first
        dial = functools.partial(
            self.dialer.connect_tcp,
            port=port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )
        for address in addresses[:-1]:  # an IPv6 answer may be unroutable here: try the next one
            with contextlib.suppress(httpcore.ConnectError, httpcore.ConnectTimeout):
                return await dial(str(address))
        return await dial(str(addresses[-1]))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never dialled")

    async def sleep(self, seconds: float) -> None:
        await self.dialer.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with a connection pool that dials only through a PinnedBackend."""

    def __init__(self, backend: PinnedBackend, tls: ssl.SSLContext) -> None:
        super().__init__(verify=tls, trust_env=False)
        # httpx has no network-backend option, so its pool is replaced by an equivalent one that has.
        self._pool = httpcore.AsyncConnectionPool(ssl_context=tls, network_backend=backend)


# Lookups for downloads run in threads of their own, at most this many at once: a name whose DNS servers
# never answer holds its thread for the resolver's whole timeout (glibc: up to ~30 s), and in the event
# loop's shared executor a few such names stalled every other lookup (new AssemblyAI connections'
# included). Four times the default per-token call cap, so one token alone cannot hold them all.
DNS_THREADS = 32
_dns_threads: RunVar[anyio.CapacityLimiter] = RunVar("aai_mcp_download_dns_threads")


def dns_limiter() -> anyio.CapacityLimiter:
    """This event loop's limiter for download lookups (a limiter belongs to one loop)."""
    try:
        return _dns_threads.get()
    except LookupError:
        _dns_threads.set(anyio.CapacityLimiter(DNS_THREADS))
        return _dns_threads.get()


async def resolve(hostname: str, port: int) -> list[IPAddress]:
    """Every address `hostname` resolves to; none if it does not resolve."""
    lookup = functools.partial(socket.getaddrinfo, hostname, port, type=socket.SOCK_STREAM)
    try:
        # abandon_on_cancel: the download's deadline ends the wait even while the lookup hangs on.
        infos = await anyio.to_thread.run_sync(lookup, abandon_on_cancel=True, limiter=dns_limiter())
    except socket.gaierror as exc:
        # Only "no answer for now" is told apart: it is the resolver's state, not the name's. A name
        # that does not exist gets the refusal every internal host gets (no map of internal names).
        if exc.errno == socket.EAI_AGAIN:
            raise UpstreamError(DNS_FAILED, kind=ErrorKind.DNS_FAILED) from None
        return []
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
