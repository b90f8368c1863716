"""Whether a store is current is read without Alembic (it stays out of a running server's memory):
the versions read from the migration files and the version table must be Alembic's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from aai_mcp.state.store_migrations import MIGRATIONS, current_version, head_version, known_versions
from aai_mcp.state.store_sql import open_store


def _alembic_scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_head_and_known_versions_are_alembics() -> None:
    scripts = _alembic_scripts()
    assert head_version() == scripts.get_current_head()
    assert known_versions() == {script.revision for script in scripts.walk_revisions()}


def test_the_version_table_is_read_as_alembic_writes_it(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert current_version(engine) is None
    store = open_store(tmp_path, None, {})
    try:
        assert store.schema_version() == head_version()
    finally:
        store.close()


@pytest.mark.slow
def test_opening_a_current_store_does_not_import_alembic(tmp_path: Path) -> None:
    open_store(tmp_path, None, {}).close()
    code = (
        "import sys; from pathlib import Path; from aai_mcp.state.store_sql import open_store; "
        f"open_store(Path({str(tmp_path)!r}), None, {{}}).close(); print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stderr
