"""Where `aai-mcp token revoke` records a revocation and where `token inspect` looks one up: the
revocation file (when one is named) and the durable store (SQLite under the data directory, or
PostgreSQL at AAI_MCP_DATABASE_URL). The database URL is only ever shown without its password."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from aai_mcp.access.revocation import RevocationList, RevocationUnavailable
from aai_mcp.config.command_options import TokenKeys
from aai_mcp.config.options import option_names

if TYPE_CHECKING:
    from aai_mcp.state.store_sql import SqlStore


class StoreSetupError(ValueError):
    """The data directory or the database URL cannot be used (a configuration error, exit 2)."""


class StoreUnreachable(Exception):
    """The store is configured but cannot be read or written now (exit 1)."""


def store_configured(keys: TokenKeys) -> bool:
    """Whether a data directory or a database URL was given (flag, environment or config file)."""
    return keys.data_dir is not None or keys.database_url is not None


def revoke_in_store(keys: TokenKeys, reason: str | None, jti: str, expires_at: float | None) -> str:
    """Record the revocation; the sentence saying so."""
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.state.store import failure_reason

    store = _open(keys, create=True)
    assert store is not None
    try:
        added = store.revoke_token(jti, reason=reason, expires_at=expires_at)
    except SQLAlchemyError as exc:
        raise StoreUnreachable(
            f"cannot record the revocation in {store.shown}: {failure_reason(exc)}"
        ) from None
    finally:
        store.close()
    state = "revoked" if added else "was already revoked"
    return f"{jti} {state} in the store {store.shown}; every server using it refuses it within a second."


def revoked_status(jti: str, keys: TokenKeys) -> str:
    """`YES (...)`, `no (...)` or `unknown (...)`, from the file and the store, whichever exist."""
    path = keys.token_revocation_file
    found = [_file_status(jti, path)] if path is not None else []
    try:
        store = _open(keys, create=False)
    except (StoreSetupError, StoreUnreachable) as exc:
        found.append((None, f"cannot read the store: {exc}"))
    else:
        if store is not None:
            found.append(_store_status(jti, store))
    if not found:
        names = option_names("token_revocation_file", TokenKeys)
        return f"unknown (no {names}, and no store yet)"
    if any(revoked for revoked, _ in found):
        return "YES (" + "; ".join(text for revoked, text in found if revoked) + ")"
    verdict = "unknown" if any(revoked is None for revoked, _ in found) else "no"
    return f"{verdict} (" + "; ".join(text for _, text in found) + ")"


def _file_status(jti: str, path: Path) -> tuple[bool | None, str]:
    try:
        return (True, f"listed in {path}") if jti in RevocationList(path) else (False, f"not in {path}")
    except RevocationUnavailable as exc:
        return None, f"cannot read {path}: {exc.detail}"


def _store_status(jti: str, store: SqlStore) -> tuple[bool | None, str]:
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.state.store import failure_reason

    try:
        revoked = store.is_revoked(jti)
    except SQLAlchemyError as exc:
        return None, f"cannot read the store {store.shown}: {failure_reason(exc)}"
    finally:
        store.close()
    return revoked, f"{'in' if revoked else 'not in'} the store {store.shown}"


def _open(keys: TokenKeys, *, create: bool) -> SqlStore | None:
    """The store; None when `create` is off and the SQLite file does not exist yet."""
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.state.engines import StoreConfigError, store_location
    from aai_mcp.state.store import failure_reason
    from aai_mcp.state.store_migrations import SchemaMismatch
    from aai_mcp.state.store_sql import open_store

    try:
        location = store_location(keys.data_dir, keys.database_url, os.environ)
        if not create and location.sqlite_path is not None and not location.sqlite_path.exists():
            return None
        return open_store(keys.data_dir, keys.database_url, os.environ)
    except StoreConfigError as exc:
        raise StoreSetupError(str(exc)) from None
    except SchemaMismatch as exc:
        raise StoreUnreachable(str(exc)) from None
    except SQLAlchemyError as exc:
        raise StoreUnreachable(f"cannot open the store {location.shown}: {failure_reason(exc)}") from None


def open_token_store(keys: TokenKeys, *, create: bool) -> SqlStore | None:
    """The store the token commands use (see `_open`); StoreSetupError or StoreUnreachable."""
    return _open(keys, create=create)
