"""`aai-mcp db upgrade | current` and doctor's store line, on SQLite and PostgreSQL: what they say,
their exit codes, and that they never print the database password or create a file they only check."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from aai_mcp.cli.doctor import check_store
from aai_mcp.cli.main import main
from aai_mcp.cli.serving import log_secrets
from aai_mcp.config.options import secret_fields
from aai_mcp.config.settings import Settings
from aai_mcp.logs import configure_logging
from aai_mcp.state.store_migrations import head_version
from tests.support import make_settings
from tests.support.postgres import PostgresServer
from tests.support.servers import free_port
from tests.support.stores import StoreConfig


@pytest.fixture(autouse=True)
def no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("AAI_MCP_")]:
        monkeypatch.delenv(name)


def db(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, config: StoreConfig, *argv: str
) -> tuple[int, str]:
    for name, value in config.env().items():
        monkeypatch.setenv(name, value)
    code = main(["db", *argv])
    out, err = capsys.readouterr()
    if config.database_url is not None:
        assert config.password() not in out + err
    return code, out + err


def test_db_current_then_upgrade_then_current(
    store_config: StoreConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = db(capsys, monkeypatch, store_config, "current")
    if store_config.engine == "sqlite":
        assert code == 0 and "schema:  none yet (the file is created at the first start)" in out
        assert not store_config.data_dir.exists(), "current creates nothing"
    else:
        assert code == 1 and "run `aai-mcp db upgrade`" in out and "***@127.0.0.1" in out
    code, out = db(capsys, monkeypatch, store_config, "upgrade")
    assert code == 0 and f"upgraded from schema version (empty) to {head_version()}" in out
    code, out = db(capsys, monkeypatch, store_config, "upgrade")
    assert code == 0 and f"already at schema version {head_version()}" in out
    code, out = db(capsys, monkeypatch, store_config, "current")
    assert code == 0 and f"schema:  {head_version()} (the newest)" in out


def test_db_with_an_unreachable_database_exits_1_without_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"postgresql://aai:hunter2-secret@127.0.0.1:{free_port()}/aai"
    config = StoreConfig(tmp_path, SecretStr(url))
    code, out = db(capsys, monkeypatch, config, "upgrade")
    assert code == 1 and "cannot reach the store postgresql+psycopg://aai:***@127.0.0.1" in out


def test_db_with_a_url_of_another_database_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = StoreConfig(tmp_path, SecretStr("mysql://root:hunter2-secret@db/aai"))
    code, out = db(capsys, monkeypatch, config, "current")
    assert code == 2 and "must start with postgresql://" in out and "hunter2" not in out


def test_the_database_url_is_not_a_flag() -> None:
    with pytest.raises(SystemExit):
        main(["db", "upgrade", "--database-url", "postgresql://aai:pw@db/aai"])


def test_doctor_reports_the_store(store_config: StoreConfig) -> None:
    store = {"data_dir": store_config.data_dir, "database_url": store_config.database_url}
    settings = make_settings(auth=["tokens"], token_secrets="d" * 40, **store)
    before = check_store(settings, {})
    if store_config.engine == "sqlite":
        assert before.ok and before.found.endswith("created when serve starts")
        assert not store_config.data_dir.exists(), "doctor creates nothing"
    else:
        assert not before.ok and "run `aai-mcp db upgrade` once" in before.line()
    store_config.open(auto_upgrade=True).close()
    after = check_store(settings, {})
    assert after.ok and after.found.endswith(f"reachable, schema {head_version()} (the newest)")
    assert after.found.startswith(store_config.engine)
    if store_config.database_url is not None:
        assert store_config.password() not in after.line() + before.line()
    without_tokens = check_store(settings.model_copy(update={"auth": ["none"]}), {})
    assert without_tokens.ok and without_tokens.found.startswith("not used without --auth tokens")


def test_doctor_names_an_unreachable_database(postgres_server: PostgresServer) -> None:
    url = postgres_server.url().replace(f":{postgres_server.port}/", f":{free_port()}/")
    settings = make_settings(auth=["tokens"], token_secrets="d" * 40, database_url=SecretStr(url))
    check = check_store(settings, {})
    assert not check.ok and "cannot reach postgresql+psycopg://aai:***@127.0.0.1" in check.line()
    assert postgres_server.password not in check.line()


def serve_with(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> tuple[int, str]:
    monkeypatch.setenv("AAI_MCP_TOKEN_SECRETS", "s" * 40)
    monkeypatch.setenv("AAI_MCP_DATABASE_URL", url)
    code = main(["serve", "--port", str(free_port()), "--auth", "tokens"])
    out, err = capsys.readouterr()
    return code, out + err


def test_serve_refuses_to_start_on_a_postgresql_schema_that_is_behind(
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = serve_with(monkeypatch, capsys, postgres_server.new_database())
    assert code == 2 and "run `aai-mcp db upgrade` once" in out
    assert postgres_server.password not in out


def test_serve_refuses_to_start_without_its_database(
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_server.url().replace(f":{postgres_server.port}/", f":{free_port()}/")
    code, out = serve_with(monkeypatch, capsys, url)
    assert code == 2 and "cannot open the store postgresql+psycopg://aai:***@127.0.0.1" in out
    assert postgres_server.password not in out


def test_serve_logs_never_show_the_database_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://aai:hunter2-secret@db.example/aai"
    settings = make_settings(database_url=SecretStr(url))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", log_secrets(settings))
        logging.getLogger("aai_mcp.test").error("cannot reach %s (password %s)", url, "hunter2-secret")
    finally:
        root.handlers[:], root.level = handlers, level
    err = capsys.readouterr().err
    assert "cannot reach" in err and "hunter2-secret" not in err


def test_every_secret_setting_and_account_key_is_redacted_from_logs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Derived from the fields marked secret, so a secret setting added later is covered without a list.
    monkeypatch.setenv("TEAM_KEY", "team-account-key-0123456789abcdef")
    monkeypatch.setenv("CRM_SIGNING", "crm-signing-secret-0123456789")
    crm_url = "https://hooks:crm-pass-0123456789@127.0.0.1/in/tok-0123456789abcdef"
    values = {
        "api_key": "own-api-key-0123456789abcdef",
        "token_secrets": "signing-secret-0123456789abcdef",
        "database_url": "postgresql://aai:db%2Fpass-0123456789@127.0.0.1/aai",
        "redis_url": "redis://:redis-pass-0123456789@127.0.0.1:6379/0",
        "webhook_auth_header_value": "webhook-secret-0123456789abcdef",
        "delivery_destinations": f"crm={crm_url}#env:CRM_SIGNING",
        "oauth_operator_password_hash": "scrypt$16384$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoMDEyMzQ1",
    }
    assert set(values) == secret_fields(Settings), "a new secret field: add a value for it here"
    settings = make_settings(
        **{name: SecretStr(value) for name, value in values.items()}, accounts=["team=env:TEAM_KEY"]
    )
    leaks = [*values.values(), "db/pass-0123456789", "db%2Fpass-0123456789", "redis-pass-0123456789"]
    leaks += [
        "team-account-key-0123456789abcdef",
        "crm-signing-secret-0123456789",
        crm_url,
        "crm-pass-0123456789",
    ]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", log_secrets(settings))
        for leak in leaks:
            logging.getLogger("aai_mcp.test").error("failed with %s", leak)
    finally:
        root.handlers[:], root.level = handlers, level
    err = capsys.readouterr().err
    assert err.count("failed with") == len(leaks)
    assert [leak for leak in leaks if leak in err] == []
