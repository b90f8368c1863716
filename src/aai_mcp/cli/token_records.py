"""The issued-token records in the store, from the CLI: `token mint` records what it mints, `token list`
shows the records (as GET /admin/v1/tokens does), `token prune` deletes the expired ones."""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from aai_mcp.access.tokens import Claims, format_time
from aai_mcp.cli.token_revocation import StoreUnreachable, open_token_store, store_configured
from aai_mcp.config.command_options import TokenKeys, TokenListOptions

if TYPE_CHECKING:
    from aai_mcp.state.issued_tokens import IssuedToken, IssuedTokens
    from aai_mcp.state.store_sql import SqlStore

T = TypeVar("T")
_COLUMNS = ("ID", "NAME", "STATE", "ACCOUNT", "EXPIRES", "CREATOR", "CREATED", "LAST USED")


def record_minted(keys: TokenKeys, claims: Claims) -> str | None:
    """Record a token the CLI minted; the store it went to, or None when there is none here (no store
    configured and no default SQLite file yet: then no server here could list it either)."""
    from aai_mcp.state.issued_tokens import IssuedTokens

    store = open_token_store(keys, create=store_configured(keys))
    if store is None:
        return None
    _with(store, lambda s: IssuedTokens(s.engine).record(claims, _cli_creator()))
    return store.shown


def list_records(keys: TokenKeys, options: TokenListOptions) -> str:
    """The table (or JSON) of issued tokens; StoreUnreachable when the store cannot be read."""
    from aai_mcp.state.issued_tokens import IssuedTokens

    store = open_token_store(keys, create=False)
    found = (
        []
        if store is None
        else _with(store, lambda s: IssuedTokens(s.engine).listed(include_expired=options.all))
    )
    now = time.time()
    if options.json_output:
        return json.dumps({"tokens": [token.as_json(now) for token in found]}, indent=2)
    return _table(found, now)


def prune_records(keys: TokenKeys) -> str:
    from aai_mcp.state.issued_tokens import IssuedTokens

    store = open_token_store(keys, create=False)
    if store is None:
        return "pruned 0 expired token record(s)"
    pruned, revocations = _with(store, lambda s: _prune_both(IssuedTokens(s.engine)))
    return f"pruned {pruned} expired token record(s), {revocations} revocation(s) of expired tokens"


def _prune_both(records: IssuedTokens) -> tuple[int, int]:
    return records.prune(), records.prune_revocations()


def _with(store: SqlStore, work: Callable[[SqlStore], T]) -> T:
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.state.store import failure_reason

    try:
        return work(store)
    except SQLAlchemyError as exc:
        raise StoreUnreachable(f"cannot use the store {store.shown}: {failure_reason(exc)}") from None
    finally:
        store.close()


def _table(found: list[IssuedToken], now: float) -> str:
    if not found:
        return "no issued tokens recorded (tokens minted before records existed are not listed)"
    rows = [_COLUMNS, *(_row(token, now) for token in found)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)  # fmt: skip


def _row(token: IssuedToken, now: float) -> tuple[str, ...]:
    def when(timestamp: float | None, none: str) -> str:
        return none if timestamp is None else format_time(timestamp)

    return (
        token.token_id,
        token.name,
        token.state(now),
        token.account,
        when(token.expires_at, "never"),
        token.creator,
        when(token.created_at, "-"),
        when(token.last_used_at, "never"),
    )


def _cli_creator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in a bare container
        return "cli"
