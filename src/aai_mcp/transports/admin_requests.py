"""The admin API's token request: bounded, checked against the catalog and the server's accounts."""

from __future__ import annotations

from collections.abc import Collection, Container
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from aai_mcp.access.scopes import METHOD_CLASSES, Scopes
from aai_mcp.access.tokens import ACCOUNT_PATTERN, NAME_PATTERN
from aai_mcp.catalog import Catalog

MAX_LIFETIME_SECONDS = 10 * 365 * 86400  # as `token mint --expires`
_NAMES = Field(None, min_length=1, max_length=200)


class RequestRefused(ValueError):
    """The request names something wrong (400); `code` is for programs, the message for people."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class TokenRequest(BaseModel):
    """POST /admin/v1/tokens. Every axis left out is unrestricted, as with `token mint`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    methods: list[str] | None = _NAMES
    toolsets: list[str] | None = _NAMES
    tools: list[str] | None = _NAMES
    tags: list[str] | None = _NAMES
    read_only: bool = False
    proxy: bool = False
    metrics: bool = False
    account: str = Field("default", pattern=ACCOUNT_PATTERN)
    expires_at: datetime | int = Field(
        description="ISO-8601 (UTC unless it has an offset) or Unix seconds; within 10 years."
    )
    require_header: bool = False

    def scopes(self, catalog: Catalog) -> Scopes:
        """The scopes asked for; RequestRefused naming any method, toolset, tool or tag that does not
        exist (a typo would silently allow nothing), or when they allow nothing at all."""
        tags = {tag for spec in catalog.tools.values() for tag in spec.tags}
        scopes = Scopes.model_validate(
            {
                "methods": _known(self.methods, "method class", METHOD_CLASSES),
                "toolsets": _known(self.toolsets, "toolset", catalog.toolsets),
                "tools": _known(self.tools, "tool", catalog.tools),
                "tags": _known(self.tags, "tag", tags),
                "read_only": self.read_only,
                "metrics": True if self.metrics else None,
                "proxy": True if self.proxy else None,
            }
        )
        if not self.proxy and not any(scopes.allows(spec) is None for spec in catalog.tools.values()):
            raise RequestRefused("empty_scopes", "these scopes allow none of the tools; widen them")
        return scopes

    def expiry(self, now: float) -> float:
        value = self.expires_at
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            expires_at = moment.timestamp()
        else:
            expires_at = float(value)
        if expires_at <= now:
            raise RequestRefused("bad_expiry", "expires_at is not in the future")
        if expires_at - now > MAX_LIFETIME_SECONDS:
            raise RequestRefused("bad_expiry", "expires_at is more than 10 years away")
        return expires_at

    def checked_account(self, accounts: Container[str], has_accounts: bool) -> str:
        if self.account in accounts or (self.account == "default" and not has_accounts):
            return self.account
        raise RequestRefused("unknown_account", f"this server has no account {self.account!r}")


def _known(values: list[str] | None, noun: str, known: Collection[str]) -> frozenset[str] | None:
    if values is None:
        return None
    unknown = sorted(set(values) - set(known))
    if unknown:
        listed = ", ".join(repr(value[:64]) for value in unknown[:10])
        raise RequestRefused("unknown_scope", f"unknown {noun} {listed}; choose from {', '.join(known)}")
    return frozenset(values)
