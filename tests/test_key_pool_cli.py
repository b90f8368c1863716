"""`aai-mcp keys list | enable`: key names and states from the store (both engines), never a value."""

from __future__ import annotations

import os

import pytest

from aai_mcp.cli.main import main
from tests.support.stores import StoreConfig
from tests.support.two_accounts import KEY_A, KEY_B


@pytest.fixture(autouse=True)
def pool_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("AAI_MCP_") or name == "ASSEMBLYAI_API_KEY"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("POOL_KEY_A", KEY_A)
    monkeypatch.setenv("POOL_KEY_B", KEY_B)
    monkeypatch.setenv("AAI_MCP_ACCOUNTS", "team=env:POOL_KEY_A,team=env:POOL_KEY_B*3")


def keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, config: StoreConfig, *argv: str
) -> tuple[int, str]:
    for name, value in config.env().items():
        monkeypatch.setenv(name, value)
    code = main(["keys", *argv])
    out, err = capsys.readouterr()
    assert KEY_A not in out + err and KEY_B not in out + err
    if config.database_url is not None:
        assert config.password() not in out + err
    return code, out + err


def test_list_shows_states_and_enable_brings_a_key_back(
    store_config: StoreConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_config.open(auto_upgrade=True)
    try:
        store.disable_key("team/POOL_KEY_A", "upstream answered 401")
        store.cool_key("team/POOL_KEY_B", 4e9)
    finally:
        store.close()
    code, out = keys(capsys, monkeypatch, store_config, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("team/POOL_KEY_A\tweight 1\tdisabled (upstream answered 401)")
    assert lines[1].startswith("team/POOL_KEY_B\tweight 3\tcooling down for ")
    code, out = keys(capsys, monkeypatch, store_config, "enable", "team/POOL_KEY_A")
    assert code == 0 and "team/POOL_KEY_A: enabled" in out
    assert "within 5 s (no shared state to tell it at once)" in out  # no Redis: the store refresh
    code, out = keys(capsys, monkeypatch, store_config, "list")
    assert out.splitlines()[0] == "team/POOL_KEY_A\tweight 1\tusable"
    code, out = keys(capsys, monkeypatch, store_config, "enable", "team/POOL_KEY_A")
    assert code == 1 and "neither disabled nor cooling down" in out
