"""`aai-mcp oauth clients [--remove ID] | grants | revoke GRANT_ID`: what the built-in OAuth
authorization server has registered and granted, as every instance sees it in the store.

Never a secret: client secrets, codes and refresh tokens are only hashes in the store and are not
read. Names and ids come from clients (DCR is open to anyone who reaches the server), so they are
printed without control characters. Exit codes: 0 done, 1 the store failed or the id is unknown,
2 the configuration is wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from aai_mcp.access.tokens import format_time
from aai_mcp.cli.flags import Command, Group
from aai_mcp.cli.store_session import with_store
from aai_mcp.config.layers import Loaded
from aai_mcp.config.oauth_options import OAuthClientsOptions, OAuthRevokeOptions
from aai_mcp.config.settings import Settings

if TYPE_CHECKING:
    from aai_mcp.state.oauth_registry import ClientRow, GrantRow, OAuthRegistry
    from aai_mcp.state.store_sql import SqlStore

T = TypeVar("T")
PARENT = "The built-in OAuth server: list or remove client registrations, list and revoke grants."
SHOWN_CHARS = 80


def oauth_commands(store: frozenset[str]) -> tuple[Command, ...]:
    """The `oauth` commands, reading the store settings named by `store`."""
    settings = Group(Settings, only=store)
    return (
        Command(
            "oauth clients",
            "List the OAuth clients registered (id, name, redirect hosts, created, last used; never a "
            "secret), or remove one with --remove ID (its grants are revoked).",
            (Group(OAuthClientsOptions), settings),
            run_clients,
        ),
        Command(
            "oauth grants",
            "List the OAuth grants (id, client, scopes, account, created, last used, expiry or revoked).",
            (settings,),
            run_grants,
        ),
        Command(
            "oauth revoke",
            "Revoke a grant: its refresh tokens at once, its access tokens on every instance within a "
            "second.",
            (Group(OAuthRevokeOptions), settings),
            run_revoke,
        ),
    )


def run_clients(loaded: Loaded) -> int:
    settings, remove = loaded.of(Settings), loaded.of(OAuthClientsOptions).remove
    if remove is not None:
        return _remove(settings, remove)
    rows = _with_registry("clients", settings, lambda registry: registry.clients())
    if rows is None:
        return 1
    for row in rows:
        print(_client_line(row))
    return 0


def run_grants(loaded: Loaded) -> int:
    rows = _with_registry("grants", loaded.of(Settings), lambda registry: registry.grants())
    if rows is None:
        return 1
    for row in rows:
        print(_grant_line(row))
    return 0


def run_revoke(loaded: Loaded) -> int:
    from aai_mcp.state.oauth_families import TokenFamilies

    grant_id = loaded.of(OAuthRevokeOptions).grant_id
    reason = "oauth: grant revoked by the operator"

    def revoke(store: SqlStore) -> bool:
        return TokenFamilies(store.engine).revoke_family(grant_id, reason)

    revoked = with_store("oauth revoke", loaded.of(Settings), revoke)
    if revoked is None:
        return 1
    if not revoked:
        return _error("revoke", f"no standing grant {_shown(grant_id)} (see `aai-mcp oauth grants`)")
    print(f"grant {grant_id} revoked: its refresh tokens now, its access tokens on every instance within 1 s")
    return 0


def _remove(settings: Settings, client_id: str) -> int:
    def remove(registry: OAuthRegistry) -> tuple[bool, list[str]]:
        revoked = registry.remove_client(client_id)
        return revoked is not None, revoked or []

    outcome = _with_registry("clients", settings, remove)
    if outcome is None:
        return 1
    found, revoked = outcome
    if not found:
        return _error("clients", f"no client {_shown(client_id)} (see `aai-mcp oauth clients`)")
    print(f"client {_shown(client_id)} removed; grants revoked: {', '.join(revoked) or 'none'}")
    return 0


def _with_registry(command: str, settings: Settings, use: Callable[[OAuthRegistry], T]) -> T | None:
    from aai_mcp.state.oauth_registry import OAuthRegistry

    def on_store(store: SqlStore) -> T:
        return use(OAuthRegistry(store.engine))

    return with_store(f"oauth {command}", settings, on_store)


def _client_line(row: ClientRow) -> str:
    hosts = ",".join(_shown(host) for host in row.redirect_hosts) or "-"
    return "\t".join(
        [
            _shown(row.client_id),
            _shown(row.name) or "-",
            f"redirects {hosts}",
            f"created {format_time(row.created_at)}",
            f"last used {_when(row.last_used_at)}",
        ]
    )


def _grant_line(row: GrantRow) -> str:
    if row.revoked_at is not None:
        state = f"revoked {format_time(row.revoked_at)}"
    elif row.ends_at is not None and (row.expires_at is None or row.ends_at < row.expires_at):
        state = f"ends {format_time(row.ends_at)}"
    elif row.expires_at is not None:
        state = f"expires {format_time(row.expires_at)}"
    else:
        state = "no refresh token"
    return "\t".join(
        [
            row.grant_id,
            f"client {_shown(row.client_id)}",
            f"scopes {' '.join(row.scopes) or '-'}",
            f"account {row.account}",
            f"approved by {_shown(row.subject)}",
            f"created {format_time(row.created_at)}",
            f"last used {_when(row.last_used_at)}",
            state,
        ]
    )


def _when(timestamp: float | None) -> str:
    return "never" if timestamp is None else format_time(timestamp)


def _shown(text: str) -> str:
    printable = "".join(ch for ch in text if ch.isprintable() and ch != "\t")
    return printable[:SHOWN_CHARS] + ("…" if len(printable) > SHOWN_CHARS else "")


def _error(command: str, message: str) -> int:
    print(f"aai-mcp oauth {command}: {message}", file=sys.stderr)
    return 1
