"""A server without a store starts without the store's machinery: SQLAlchemy (about 11 MB of RSS and
a tenth of the start-up) and the bundled API reference specs load only when first used; so does
aiohttp (the upstream GETs' transport: 8 MB of RSS)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy.exc

from aai_mcp.catalog import CatalogError, default_schema_dir, load_catalog
from aai_mcp.gateway import load_default_catalog
from aai_mcp.mcp_server.handlers.handler_table import HANDLER_CALLS
from aai_mcp.mcp_server.views.view_table import VIEWS
from aai_mcp.state.store import store_errors
from tests.support.servers import SIM_KEY, clean_env

# What `aai-mcp serve` builds before it listens (cli/serving.py), in a fresh interpreter.
BUILD_SERVED_APP = """
import json, sys
from aai_mcp.cli.serving import build_gateway
from aai_mcp.config.settings import Settings
from aai_mcp.transports.connections import server_config
from aai_mcp.transports.draining import draining_for
from aai_mcp.transports.http import build_http_app, checked_authenticator

settings = Settings()
gateway = build_gateway(settings)
server_config(build_http_app(gateway, checked_authenticator(settings), draining_for(gateway)), settings)
from aai_mcp.api_reference.lookup import load_reference
lazy = ("sqlalchemy", "alembic", "psycopg", "playwright", "aiohttp")
loaded = sorted(name for name in lazy if name in sys.modules)
print(json.dumps({"loaded": loaded, "specs_read": load_reference.cache_info().currsize}))
"""


@pytest.mark.slow
def test_a_server_starts_without_what_only_some_requests_need() -> None:
    env = clean_env(ASSEMBLYAI_API_KEY=SIM_KEY, AAI_MCP_API_BASE_URL="http://127.0.0.1:9")
    done = subprocess.run(
        [sys.executable, "-c", BUILD_SERVED_APP], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"loaded": [], "specs_read": 0}


def test_store_errors_catch_sqlalchemy_errors_once_it_is_loaded() -> None:
    assert store_errors() == (sqlalchemy.exc.SQLAlchemyError,)
    with pytest.raises(ZeroDivisionError):
        try:
            raise ZeroDivisionError
        except store_errors():
            pytest.fail("a non-database error was caught as one")
    try:
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("refused"))
    except store_errors() as exc:
        assert "refused" in str(exc)


def test_the_shipped_catalog_passes_the_metaschema_checks_its_start_skips() -> None:
    checked = load_catalog(default_schema_dir(), handlers=HANDLER_CALLS, views=VIEWS.keys())
    assert checked == load_default_catalog()


def test_a_schema_the_metaschema_refuses_fails_the_load_unless_told_to_skip(tmp_path: Path) -> None:
    shutil.copytree(default_schema_dir(), tmp_path, dirs_exist_ok=True)
    outputs = tmp_path / "outputs.yaml"
    text = outputs.read_text(encoding="utf-8")
    outputs.write_text(
        text.replace("type: object", "type: object\n    minProperties: -1", 1), encoding="utf-8"
    )
    with pytest.raises(CatalogError, match="invalid JSON Schema"):
        load_catalog(tmp_path, handlers=HANDLER_CALLS, views=VIEWS.keys())
    load_catalog(tmp_path, handlers=HANDLER_CALLS, views=VIEWS.keys(), check_schemas=False)
