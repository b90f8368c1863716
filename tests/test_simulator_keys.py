"""`aai-mcp simulate` with several keys: from AAI_MCP_SIMULATOR_KEYS or a key file (never a flag, like
real keys), each one account, never printed; `--key` when neither is given."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from aai_mcp.cli.main import load_command, main
from aai_mcp.cli.serving import simulator_keys
from aai_mcp.config.command_options import SimulateOptions
from aai_mcp.simulator import SimulatorConfig
from aai_mcp.simulator.listener import accepted
from tests.support.servers import aai_mcp_process, clean_env

KEY_A = "cli-sim-key-a-0123456789abcdef"
KEY_B = "cli-sim-key-b-0123456789abcdef"
KEY_C = "cli-sim-key-c-0123456789abcdef"


def options(env: dict[str, str], *args: str) -> SimulateOptions:
    return load_command(["simulate", *args], env).of(SimulateOptions)


def test_keys_come_from_the_environment_then_the_file_each_once(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"# the CI accounts\n{KEY_B}\n\n  {KEY_C}  \n", encoding="utf-8")
    env = {"AAI_MCP_SIMULATOR_KEYS": f"{KEY_A}, {KEY_B},", "AAI_MCP_SIMULATOR_KEY_FILE": str(key_file)}
    assert simulator_keys(options(env)) == (KEY_A, KEY_B, KEY_C)
    assert simulator_keys(options({}, "--key-file", str(key_file))) == (KEY_B, KEY_C)


def test_without_keys_the_one_key_is_the_flags(tmp_path: Path) -> None:
    assert simulator_keys(options({})) == ("sim-key",)
    assert simulator_keys(options({}, "--key", KEY_A)) == (KEY_A,)
    blank = tmp_path / "blank"
    blank.write_text("# nothing yet\n", encoding="utf-8")
    assert simulator_keys(options({"AAI_MCP_SIMULATOR_KEYS": " , "}, "--key-file", str(blank))) == (
        "sim-key",
    )


def test_keys_are_never_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["simulate", "--keys", KEY_A])
    assert exited.value.code == 2
    assert "unrecognized arguments: --keys" in capsys.readouterr().err


def test_an_unreadable_key_file_stops_simulate_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert main(["simulate", "--key-file", str(missing)]) == 2
    assert f"cannot read the key file {missing}" in capsys.readouterr().err


def test_the_banner_counts_keys_it_must_not_show() -> None:
    config = SimulatorConfig(api_key=KEY_A, api_keys=(KEY_B,))
    assert accepted(config, show_keys=False) == "2 accounts, one per API key given; keys not shown"
    assert accepted(SimulatorConfig(api_key="k"), show_keys=True) == "accepted API key: k"


@pytest.mark.slow
def test_simulate_serves_one_account_per_key_from_the_environment() -> None:
    env = clean_env(AAI_MCP_SIMULATOR_KEYS=f"{KEY_A},{KEY_B}")
    with aai_mcp_process("simulate", "--simulator-delay-seconds", "0", env=env) as simulator:
        base = simulator.base_url
        made = httpx.post(
            f"{base}/v2/transcript",
            json={"audio_url": "https://example.com/a.mp3", "speech_models": ["universal-2"]},
            headers={"Authorization": KEY_A},
            timeout=30,
        )
        assert made.status_code == 200, made.text
        other = httpx.get(f"{base}/v2/transcript/{made.json()['id']}", headers={"Authorization": KEY_B})
        assert other.status_code == 404
        assert httpx.get(f"{base}/v2/transcript", headers={"Authorization": "sim-key"}).status_code == 401
        admin = {"Authorization": KEY_B}
        assert httpx.post(f"{base}/_sim/accounts/0/reject", headers=admin).json()["rejected"] is True
        assert httpx.get(f"{base}/v2/transcript", headers={"Authorization": KEY_A}).status_code == 401
        accounts = httpx.get(f"{base}/_sim/accounts", headers=admin).json()["accounts"]
        stderr = simulator.stderr()
    assert [account["refused"] for account in accounts] == [{"401": 1}, {}]
    assert "2 accounts, one per API key given; keys not shown" in stderr
    assert KEY_A not in stderr and KEY_B not in stderr
