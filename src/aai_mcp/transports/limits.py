"""How many long-lived things (sessions, SSE streams) each principal and the whole server may hold.

A passthrough key is not checked before its first call, so anyone can make up a new one per request:
as a principal it is unverified. What unverified principals hold is also counted against their
client address (an IPv6 /64, which one host usually has whole), under the same per-principal caps,
so made-up keys from one address cannot add up to the global cap.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from aai_mcp.access.principal import SCOPE_KEY, Principal
from aai_mcp.config.settings import Settings

ANONYMOUS = "anonymous"
UNVERIFIED_PREFIX = "passthrough:"  # the ids `Authenticator` gives passthrough keys
IPV6_HOST_PREFIX = 64


def owner_of(scope: Scope) -> str:
    """The stable identity sessions are bound to: the OAuth token family, the token id, or a passthrough
    key's fingerprint."""
    principal = scope.get(SCOPE_KEY)
    return principal.session_owner if isinstance(principal, Principal) else ANONYMOUS


def holders_of(scope: Scope) -> tuple[str, ...]:
    """Whom what a request opens is counted against: its principal, and for an unverified one its
    client address too."""
    owner = owner_of(scope)
    if not owner.startswith(UNVERIFIED_PREFIX):
        return (owner,)
    return owner, client_network(scope)


def client_network(scope: Scope) -> str:
    """The client's address (as uvicorn resolved it, X-Forwarded-For from a trusted proxy included),
    widened to its /64 for IPv6."""
    client = scope.get("client")
    host = client[0] if client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"address:{host}"  # a Unix socket or a test client: one bucket per name
    if address.version == 6:
        return f"address:{ipaddress.ip_network((address, IPV6_HOST_PREFIX), strict=False)}"
    return f"address:{address}"


@dataclass(frozen=True)
class Refusal:
    """A cap was reached: per principal (429, only that caller is affected) or server-wide (503)."""

    status: int
    code: str
    message: str

    def response(self) -> JSONResponse:
        headers = {"Retry-After": "30"}
        return JSONResponse({"error": {"code": self.code, "message": self.message}}, self.status, headers)


@dataclass
class Ledger:
    """Counts what each principal holds against its own cap and a server-wide one.

    The per-principal cap is kept well below the total, so no single caller can fill the server.
    """

    name: str
    label: str
    per_principal: int
    total: int
    held: Counter[str] = field(default_factory=Counter)
    """Per principal and per client address of unverified principals: one slot can count twice."""
    open: int = 0

    def refusal(self, holders: Iterable[str]) -> Refusal | None:
        if any(self.held[holder] >= self.per_principal for holder in holders):
            message = (
                f"This caller already holds {self.per_principal} open {self.label} "
                f"(limit max_{self.name}_per_principal); close one or wait for idle ones to expire."
            )
            return Refusal(429, f"too_many_{self.name}", message)
        if self.open >= self.total:
            message = f"The server has {self.total} {self.label} open (max_{self.name}); retry later."
            return Refusal(503, f"server_{self.name}_full", message)
        return None

    def acquire(self, holders: tuple[str, ...]) -> Refusal | None:
        """Take one slot for `holders`, or say which cap is reached (checked and taken without awaiting)."""
        refusal = self.refusal(holders)
        if refusal is None:
            self.open += 1
            self.held.update(holders)
        return refusal

    def release(self, holders: tuple[str, ...]) -> None:
        self.open -= 1
        for holder in holders:
            self.held[holder] -= 1
            if self.held[holder] <= 0:
                del self.held[holder]

    async def hold(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Run a long-lived stream within the caps: refused over them, its slot given back when it ends."""
        holders = holders_of(scope)
        refusal = self.acquire(holders)
        if refusal is not None:
            await refusal.response()(scope, receive, send)
            return
        try:
            await app(scope, receive, send)
        finally:
            self.release(holders)


def session_ledger(settings: Settings) -> Ledger:
    return Ledger("sessions", "sessions", settings.max_sessions_per_principal, settings.max_sessions)


def sse_ledger(settings: Settings) -> Ledger:
    return Ledger(
        "sse_streams", "SSE streams", settings.max_sse_streams_per_principal, settings.max_sse_streams
    )
