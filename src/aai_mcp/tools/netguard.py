"""Refuse URLs that point into the server's own network (SSRF), before and after connecting."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import anyio
import httpx

from aai_mcp.tools.call import ToolInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# IPv6 ranges that carry an IPv4 address in their last 32 bits: IPv4-compatible, NAT64 (RFC 6052, 8215).
EMBEDDING_IPV4 = tuple(ipaddress.IPv6Network(net) for net in ("::/96", "64:ff9b::/96", "64:ff9b:1::/48"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, compatible, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None or address.sixtofour is not None:
        return address.ipv4_mapped or address.sixtofour
    if any(address in network for network in EMBEDDING_IPV4):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and (inner := embedded_ipv4(address)) is not None:
        if not is_public(inner):
            return False
    return address.is_global and not address.is_multicast


async def check_url(url: str, allow_private: bool) -> None:
    """Raise ToolInputError unless `url` is http(s) and every address its host resolves to is public."""
    try:
        httpx.URL(url)  # what the download will use; urlsplit alone would drop CR/LF silently
    except httpx.InvalidURL as exc:
        raise ToolInputError(f"Refused: {url!r} is not a valid URL ({exc}).") from None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolInputError(f"Only http(s) URLs with a host can be fetched, not {url!r}.")
    if parts.username or parts.password:
        raise ToolInputError("URLs with credentials in them are not fetched.")
    if allow_private:
        return
    for address in await resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)):
        if not is_public(address):
            raise ToolInputError(
                f"Refused: {parts.hostname} resolves to {address}, a private, loopback or link-local "
                "address. upload_file only fetches public URLs."
            )


async def resolve(hostname: str, port: int) -> list[IPAddress]:
    try:
        infos = await anyio.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ToolInputError(f"Could not resolve {hostname!r}: {exc.strerror or exc}.") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_peer(peer: object, allow_private: bool) -> None:
    """After connecting: the address actually reached must be public too (DNS may have changed)."""
    if allow_private or not isinstance(peer, tuple) or not peer:
        return
    address = ipaddress.ip_address(str(peer[0]).split("%")[0])
    if not is_public(address):
        raise ToolInputError(f"Refused: the download connected to {address}, which is not a public address.")
