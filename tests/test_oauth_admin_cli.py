"""`aai-mcp oauth clients [--remove ID] | grants | revoke GRANT_ID` (issue 15 parts 2 and 5) on both
engines: registrations and grants listed without secrets (and without a client's control characters),
a revoked grant's tokens refused through revoked_tokens, a removed client's grants revoked."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from aai_mcp.access.oauth_provider import StoreProvider
from aai_mcp.cli.main import main
from aai_mcp.state.oauth_store import OAuthRecords
from aai_mcp.state.store_schema import oauth_grants
from aai_mcp.state.store_sql import SqlStore
from tests.support.stores import StoreConfig
from tests.test_oauth_provider import CONFIG
from tests.test_oauth_refresh import consented, first_tokens, jti, refreshing_client

pytestmark = pytest.mark.anyio
CLIENT_SECRET = "client-secret-never-shown-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("AAI_MCP_")]:
        monkeypatch.delenv(name)


def oauth(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, config: StoreConfig, *argv: str
) -> tuple[int, str]:
    for name, value in config.env().items():
        monkeypatch.setenv(name, value)
    code = main(["oauth", *argv])
    out, err = capsys.readouterr()
    assert CLIENT_SECRET not in out + err
    if config.database_url is not None:
        assert config.password() not in out + err
    return code, out + err


def grant_ids(store: SqlStore) -> list[str]:
    with store.engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(oauth_grants.c.grant_id).order_by(oauth_grants.c.created_at)
            ).scalars()
        )


async def test_list_revoke_and_remove(
    store_config: StoreConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_config.open(auto_upgrade=True)
    try:
        provider = StoreProvider(OAuthRecords(store.engine), CONFIG)
        client, tokens = await first_tokens(provider, ["toolset:audio", "mcp:read-only"])
        evil = refreshing_client().model_copy(
            update={
                "client_id": "client-2", "client_name": "Evil\x1b[2J\tname",
                "client_secret": CLIENT_SECRET, "token_endpoint_auth_method": "client_secret_post",
            }
        )  # fmt: skip
        await consented(provider, ["mcp"], evil)
        first_grant, second_grant = grant_ids(store)

        code, out = oauth(capsys, monkeypatch, store_config, "clients")
        lines = out.splitlines()
        assert code == 0 and len(lines) == 2
        assert lines[0].startswith("client-1\tTest client\tredirects 127.0.0.1:3000\tcreated 20")
        assert lines[0].split("\t")[4].startswith("last used 20")  # it exchanged a code
        assert lines[1].startswith("client-2\tEvil[2Jname\t") and lines[1].endswith("last used never")
        assert "\x1b" not in out

        code, out = oauth(capsys, monkeypatch, store_config, "grants")
        listed = out.splitlines()
        assert code == 0 and listed[0].startswith(
            f"{first_grant}\tclient client-1\tscopes toolset:audio mcp:read-only"
        )
        assert "\taccount default\tapproved by operator\tcreated 20" in listed[0]
        assert listed[0].split("\t")[-1].startswith("expires 20")
        assert listed[1].endswith("no refresh token")  # its code was never exchanged
        assert tokens.refresh_token is not None and tokens.refresh_token not in out

        code, out = oauth(capsys, monkeypatch, store_config, "revoke", first_grant)
        assert code == 0 and f"grant {first_grant} revoked" in out
        assert store.is_revoked(jti(tokens))
        assert await provider.load_refresh_token(client, tokens.refresh_token) is None
        code, out = oauth(capsys, monkeypatch, store_config, "grants")
        assert out.splitlines()[0].split("\t")[-1].startswith("revoked 20")
        code, out = oauth(capsys, monkeypatch, store_config, "revoke", first_grant)
        assert code == 1 and "no standing grant" in out

        code, out = oauth(capsys, monkeypatch, store_config, "clients", "--remove", "client-2")
        assert code == 0 and f"client client-2 removed; grants revoked: {second_grant}" in out
        assert await provider.get_client("client-2") is None
        code, out = oauth(capsys, monkeypatch, store_config, "clients")
        assert [line.split("\t")[0] for line in out.splitlines()] == ["client-1"]
        code, out = oauth(capsys, monkeypatch, store_config, "clients", "--remove", "client-2")
        assert code == 1 and "no client client-2" in out
    finally:
        store.close()


@pytest.mark.slow  # it tries a socket on loopback
def test_an_unreachable_store_is_one_line_and_exit_1(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AAI_MCP_DATABASE_URL", "postgresql://user:hunter2@127.0.0.1:1/none")
    code = main(["oauth", "grants"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("aai-mcp oauth grants: ") and "hunter2" not in err
