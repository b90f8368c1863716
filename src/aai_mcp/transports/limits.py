"""How many long-lived things (sessions, SSE streams) each principal and the whole server may hold."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from starlette.responses import JSONResponse
from starlette.types import Scope

from aai_mcp.access.principal import SCOPE_KEY, Principal
from aai_mcp.settings import Settings

ANONYMOUS = "anonymous"


def owner_of(scope: Scope) -> str:
    """The stable identity sessions are bound to: the token id, or a passthrough key's fingerprint."""
    principal = scope.get(SCOPE_KEY)
    return principal.id if isinstance(principal, Principal) else ANONYMOUS


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

    def refusal(self, owner: str) -> Refusal | None:
        if self.held[owner] >= self.per_principal:
            message = (
                f"This caller already holds {self.per_principal} open {self.label} "
                f"(limit max_{self.name}_per_principal); close one or wait for idle ones to expire."
            )
            return Refusal(429, f"too_many_{self.name}", message)
        if self.held.total() >= self.total:
            message = f"The server has {self.total} {self.label} open (max_{self.name}); retry later."
            return Refusal(503, f"server_{self.name}_full", message)
        return None

    def acquire(self, owner: str) -> Refusal | None:
        """Take one slot for `owner`, or say which cap is reached (checked and taken without awaiting)."""
        refusal = self.refusal(owner)
        if refusal is None:
            self.held[owner] += 1
        return refusal

    def release(self, owner: str) -> None:
        self.held[owner] -= 1
        if self.held[owner] <= 0:
            del self.held[owner]


def session_ledger(settings: Settings) -> Ledger:
    return Ledger("sessions", "sessions", settings.max_sessions_per_principal, settings.max_sessions)


def sse_ledger(settings: Settings) -> Ledger:
    return Ledger(
        "sse_streams", "SSE streams", settings.max_sse_streams_per_principal, settings.max_sse_streams
    )
