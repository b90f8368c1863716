"""One store opened for one CLI command (`keys`, `usage`): its failures said in one line, never a password."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from aai_mcp.config.settings import Settings

if TYPE_CHECKING:
    from aai_mcp.state.store_sql import SqlStore

T = TypeVar("T")


def with_store(command: str, settings: Settings, use: Callable[[SqlStore], T]) -> T | None:
    """`use` on the store; None (the reason printed as `aai-mcp <command>: ...`) when it cannot be
    opened or fails."""
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.state.engines import StoreConfigError
    from aai_mcp.state.store import failure_reason
    from aai_mcp.state.store_migrations import SchemaMismatch
    from aai_mcp.state.store_sql import open_store

    def error(message: str) -> None:
        print(f"aai-mcp {command}: {message}", file=sys.stderr)

    try:
        store = open_store(settings.data_dir, settings.database_url, os.environ)
    except (StoreConfigError, SchemaMismatch) as exc:
        error(str(exc))
        return None
    except SQLAlchemyError as exc:
        error(f"cannot open the store: {failure_reason(exc)}")
        return None
    try:
        return use(store)
    except SQLAlchemyError as exc:
        error(f"the store {store.shown} failed: {failure_reason(exc)}")
        return None
    finally:
        store.close()
