"""`aai-mcp db upgrade | current`: the durable store's schema version, and bringing it to the newest.

Exit codes: 0 done (or already current), 1 the store cannot be reached or is behind, 2 the
configuration is wrong. The database URL is shown without its password.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aai_mcp.config.settings import Settings

if TYPE_CHECKING:
    from aai_mcp.state.engines import StoreLocation


def run_db_command(command: str, settings: Settings, env: Mapping[str, str]) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.state.engines import StoreConfigError, store_location
    from aai_mcp.state.store import failure_reason
    from aai_mcp.state.store_migrations import SchemaMismatch

    try:
        location = store_location(settings.data_dir, settings.database_url, env)
    except StoreConfigError as exc:
        return _error(str(exc), 2)
    try:
        return _upgrade(location) if command == "upgrade" else _current(location)
    except StoreConfigError as exc:  # an SQLite data directory that cannot be created
        return _error(str(exc), 2)
    except SchemaMismatch as exc:
        return _error(str(exc), 1)
    except SQLAlchemyError as exc:
        return _error(f"cannot reach the store {location.shown}: {failure_reason(exc)}", 1)


def _upgrade(location: StoreLocation) -> int:
    from aai_mcp.state.engines import create_engine
    from aai_mcp.state.store_migrations import upgrade

    engine = create_engine(location)
    try:
        before, after = upgrade(engine, location)
    finally:
        engine.dispose()
    if before == after:
        print(f"{location.shown}: already at schema version {after} (the newest)")
    else:
        print(f"{location.shown}: upgraded from schema version {before or '(empty)'} to {after}")
    return 0


def _current(location: StoreLocation) -> int:
    from aai_mcp.state.engines import create_engine
    from aai_mcp.state.store_migrations import current_version, head_version

    print(f"engine:  {location.engine}")
    print(f"store:   {location.shown}")
    if location.sqlite_path is not None and not location.sqlite_path.exists():
        print(f"schema:  none yet (the file is created at the first start); newest is {head_version()}")
        return 0
    engine = create_engine(location)
    try:
        version = current_version(engine)
    finally:
        engine.dispose()
    if version == head_version():
        print(f"schema:  {version} (the newest)")
        return 0
    print(f"schema:  {version or '(empty)'}; this aai-mcp needs {head_version()}: run `aai-mcp db upgrade`")
    return 1


def _error(message: str, code: int) -> int:
    print(f"aai-mcp db: {message}", file=sys.stderr)
    return code
