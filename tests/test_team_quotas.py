"""Team quotas as configured: one syntax through flags, environment and config file, errors that
name the entry, and the model the front doors ask (the WebSocket proxy: the longest session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aai_mcp.access.team_quotas import TeamQuota, TeamQuotaError, TeamQuotas, parse_team_quotas
from aai_mcp.cli.main import load_command, main
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import build_gateway
from tests.support import make_settings


def test_every_limit_is_optional() -> None:
    quotas = parse_team_quotas(
        ["ci:rpm=120,jobs=4,audio_hours=50,llm_tokens=2000000,stream_seconds=3600", "research: jobs = 2"]
    )
    assert quotas == {
        "ci": TeamQuota(rpm=120, jobs=4, audio_hours=50.0, llm_tokens=2_000_000, stream_seconds=3600.0),
        "research": TeamQuota(jobs=2),
    }
    model = TeamQuotas(quotas)
    assert model.stream_session_seconds("ci") == 3600.0
    assert model.stream_session_seconds("research") is None
    assert model.of("nobody") == TeamQuota()


@pytest.mark.parametrize(
    ("entries", "says"),
    [
        (["ci"], "team quota entry 1 (ci): write team:limit=value"),
        (["ci:rpm=1", "ops:speed=3"], "team quota entry 2 (ops): 'speed' is not one of rpm, jobs"),
        (["ci:rpm=0"], "entry 1 (ci): rpm must be a whole number above 0"),
        (["ci:rpm=2.5"], "rpm must be a whole number above 0"),
        (["ci:audio_hours=nan"], "audio_hours must be a number above 0"),
        (["ci:jobs=1,jobs=2"], "entry 1 (ci): jobs is given twice"),
        (["ci:jobs=1", "ci:rpm=3"], "team quota entry 2: team 'ci' has an earlier entry"),
        ([":rpm=3"], "team quota entry 1 (no team)"),
    ],
)
def test_errors_name_the_entry(entries: list[str], says: str) -> None:
    with pytest.raises(TeamQuotaError) as raised:
        parse_team_quotas(entries)
    assert says in str(raised.value)


def test_environment_entries_are_separated_by_semicolons(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"AAI_MCP_ACCOUNTS": "ci=env:CI_KEY", "AAI_MCP_TEAM_QUOTAS": "ci:rpm=60,jobs=2; default:jobs=1"}
    settings = load_command(["serve"], env).of(Settings)
    assert settings.team_quotas == ["ci:rpm=60,jobs=2", "default:jobs=1"]
    flagged = load_command(["serve", "--accounts", "ci=env:X", "--team-quotas", "ci:rpm=5"], {}).of(Settings)
    assert flagged.team_quotas == ["ci:rpm=5"]


def test_the_config_file_takes_a_list(tmp_path: Path) -> None:
    path = tmp_path / "aai-mcp.toml"
    path.write_text('accounts = ["ci=env:CI_KEY"]\nteam_quotas = ["ci:llm_tokens=1000", "default:rpm=10"]\n')
    settings = load_command(["serve", "--config", str(path)], {}).of(Settings)
    assert parse_team_quotas(settings.team_quotas) == {
        "ci": TeamQuota(llm_tokens=1000),
        "default": TeamQuota(rpm=10),
    }


def test_a_quota_for_a_team_that_is_no_account_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--accounts", "ci=env:CI_KEY", "--team-quotas", "cl:rpm=5"])
    err = capsys.readouterr().err
    assert code == 2
    assert "team_quotas names team 'cl', which is no account (accounts: ci, default)" in err


def test_a_bad_entry_stops_the_command_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--team-quotas", "default:rpm=fast"]) == 2
    err = capsys.readouterr().err
    assert "--team-quotas" in err and "team quota entry 1 (default): rpm must be a whole number" in err


@pytest.mark.anyio
async def test_the_gateway_offers_the_quotas_to_every_front_door() -> None:
    gateway = build_gateway(make_settings(team_quotas="default:stream_seconds=90"))
    try:
        assert gateway.quotas.stream_session_seconds("default") == 90.0
    finally:
        await gateway.aclose()
