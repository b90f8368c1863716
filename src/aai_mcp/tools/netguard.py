"""Refuse URLs that point into the server's own network (SSRF), before and after connecting."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import anyio

from aai_mcp.tools.call import ToolInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def check_url(url: str, allow_private: bool) -> None:
    """Raise ToolInputError unless `url` is http(s) and every address its host resolves to is public."""
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
