"""The command line as a new user meets it: help that matches behaviour, one-line errors, clean pipes."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import annotated_types
import pytest

from aai_mcp.access.secrets import GENERATE_HINT
from aai_mcp.catalog.model import Effect
from aai_mcp.cli.main import build_parser, main
from aai_mcp.cli.readme_tables import config_table
from aai_mcp.config.options import ENV_ONLY, HTTP_ONLY, env_var, flag
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import load_default_catalog
from aai_mcp.mcp_server.views.transcript import next_step
from tests.support.servers import clean_env, free_port, serve_in_process

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("AAI_MCP_") or name == "ASSEMBLYAI_API_KEY"]:
        monkeypatch.delenv(name)


def options_of(*words: str, root: Any = None) -> set[str]:
    """The flags of `aai-mcp WORDS...` (`options_of("token", "inspect")`), from `root` when given."""
    parser: Any = root or build_parser()
    for word in words:
        parser = next(a for a in parser._actions if a.dest.endswith("command")).choices[word]
    return set(parser._option_string_actions)


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdout: int = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "aai_mcp", *args]
    return subprocess.run(
        command,
        env=env or clean_env(),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )


# --- the configuration table and --help -------------------------------------------------------------


def table_rows() -> dict[str, str]:
    """Environment variable -> the whole row of the README's configuration table."""
    rows = config_table().splitlines()[2:]
    return {re.findall(r"`(ASSEMBLYAI_API_KEY|AAI_MCP_[A-Z0-9_]+)`", row)[0]: row for row in rows}


def test_every_flag_the_table_lists_exists_and_secrets_are_environment_only() -> None:
    """Each flag of a row is accepted by a command the row names; secrets have no flag anywhere."""
    root, rows = build_parser(), table_rows()  # once each: per row they made this test slow
    for row in rows.values():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        commands = [name.strip() for name in cells[3].split(",")]
        offered = set().union(*(options_of(*name.split(), root=root) for name in commands))
        for listed in re.findall(r"`(--[a-z0-9-]+)`", cells[0]):
            assert listed in offered, f"the table lists {listed}, which none of {commands} accepts"
    for name in ENV_ONLY:
        assert rows[str(env_var(name))].startswith("| (environment only) |")
        for command in ("serve", "stdio", "doctor", "config"):
            assert f"--{name.replace('_', '-')}" not in options_of(command, root=root)


def test_stdio_offers_only_the_options_that_apply_to_it() -> None:
    stdio, serve = options_of("stdio"), options_of("serve")
    http_flags = {f for name in HTTP_ONLY if (f := flag(name))}
    assert http_flags <= serve
    assert not http_flags & stdio, sorted(http_flags & stdio)
    assert {"--host", "--port", "--auth", "--stateless", "--allowed-hosts"}.isdisjoint(stdio)
    assert {"--region", "--upload-roots", "--toolsets", "--max-result-chars"} <= stdio
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(["stdio", "--port", "9000"])
    assert refused.value.code == 2


def test_base_url_options_ask_for_the_bare_origin() -> None:
    names = ("api_base_url", "llm_gateway_base_url", "streaming_base_url", "agents_base_url")
    for name in (*names, "tts_base_url", "token_base_url"):
        description = str(Settings.model_fields[name].description)
        assert "origin" in description and "(/v" not in description, description
        assert re.search(r"no /v\d", description), description


def bounded_fields() -> list[str]:
    kinds = (annotated_types.Ge, annotated_types.Gt, annotated_types.Le, annotated_types.Lt)
    return [n for n, f in Settings.model_fields.items() if any(isinstance(m, kinds) for m in f.metadata)]


def help_of(command: str) -> dict[str, str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    actions = subparsers.choices[command]._actions  # type: ignore[index]
    return {option: str(action.help) for action in actions for option in action.option_strings}


def test_every_bound_is_stated_in_the_help_and_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "page. Must be at least 1000. [env AAI_MCP_MAX_RESULT_CHARS" in help_text
    assert "Must be at least 1000." in table_rows()["AAI_MCP_MAX_RESULT_CHARS"]
    helps = help_of("serve")
    for name in bounded_fields():
        assert "Must be " in table_rows()[str(env_var(name))], name
        assert "Must be " in helps[f"--{name.replace('_', '-')}"], name


# --- configuration errors --------------------------------------------------------------------------


def one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "pydantic" not in err and "http" not in err and "Traceback" not in err
    return lines[0]


def test_a_flag_out_of_range_is_one_line_naming_flag_variable_and_range(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = one_error_line(capsys, ["serve", "--max-result-chars", "10"])
    assert line == (
        "aai-mcp: --max-result-chars / AAI_MCP_MAX_RESULT_CHARS must be a whole number, at least 1000"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AAI_MCP_REGION", "mars", "--region / AAI_MCP_REGION must be one of: us, eu"),
        ("AAI_MCP_PORT", "eighty", "--port / AAI_MCP_PORT must be a whole number, from 0 to 65535"),
        ("AAI_MCP_READ_ONLY", "perhaps", "--read-only / AAI_MCP_READ_ONLY must be true or false"),
        ("AAI_MCP_LOG_LEVEL", "loud", "--log-level / AAI_MCP_LOG_LEVEL must be one of: DEBUG, INFO,"),
        (
            "AAI_MCP_TIMEOUT_SECONDS",
            "0",
            "--timeout-seconds / AAI_MCP_TIMEOUT_SECONDS must be a number, more",
        ),
    ],
)
def test_a_bad_environment_variable_is_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert one_error_line(capsys, ["serve"]).startswith(f"aai-mcp: {expected}")


def test_every_bounded_option_out_of_range_names_itself(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in bounded_fields():
        low = next(m for m in Settings.model_fields[name].metadata if hasattr(m, "ge") or hasattr(m, "gt"))
        below = getattr(low, "ge", None)
        value = str(below - 1) if below is not None else str(low.gt)
        monkeypatch.setenv(str(env_var(name)), value)
        line = one_error_line(capsys, ["serve"])
        assert line.startswith(f"aai-mcp: --{name.replace('_', '-')} / {env_var(name)} must be "), line
        monkeypatch.delenv(str(env_var(name)))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--accounts", "bad"],
            "aai-mcp: --accounts / AAI_MCP_ACCOUNTS: account entry 1 is not name=env:VAR",
        ),
        (
            ["--auth", "tokens"],
            "aai-mcp: auth mode 'tokens' needs AAI_MCP_TOKEN_SECRETS or --token-secret-file",
        ),
        (["--toolsets", "bogus"], "aai-mcp: --toolsets: unknown toolset bogus (known: chatgpt, "),
        (["--tools", "nope"], "aai-mcp: --tools: unknown tool nope (known: ask_transcript, "),
        (["--tags", "nope"], "aai-mcp: --tags: unknown tag nope (known: "),
    ],
)
def test_start_up_checks_are_one_line_too(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert one_error_line(capsys, ["serve", "--port", "0", *argv]).startswith(expected)


# --- serving: the port ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_busy_port_is_one_clear_line_and_nothing_is_announced() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--port", str(port))
    assert done.returncode in (0, 1)  # argparse swallows some write errors itself, by Python version
    assert done.stderr.strip().splitlines() == [
        f"aai-mcp: cannot listen on 127.0.0.1:{port}: the port is already in use (another aai-mcp or "
        "program); stop it or choose another port with --port / AAI_MCP_PORT"
    ]


@pytest.mark.slow
def test_the_announcement_names_the_port_really_bound() -> None:
    with serve_in_process() as server:
        announced = [line for line in server.stderr().splitlines() if "aai-mcp: serving" in line]
    assert announced and f"at {server.base_url}/mcp" in announced[0]


# --- output into a closed pipe ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["tools"], ["tools", "--json"], ["--version"], ["serve", "--help"], ["config", "cursor"]]
)
def test_output_into_a_closed_pipe_ends_quietly(command: list[str]) -> None:
    """`aai-mcp tools --json | head`: the reader may leave before we write; no traceback then."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = run_cli(*command, stdout=write_end)
    finally:
        os.close(write_end)
    for noise in ("Traceback", "BrokenPipe", "Exception ignored"):
        assert noise not in done.stderr, done.stderr
    assert done.returncode in (0, 1)  # argparse swallows some write errors itself, by Python version


# --- words that must agree -------------------------------------------------------------------------


def test_every_secret_recipe_matches_the_cli_hint() -> None:
    recipes = [
        match
        for path in (ROOT / "README.md", ROOT / "deploy" / "kubernetes.yaml")
        for match in re.findall(r"secrets\.token_urlsafe\(\d+\)", path.read_text())
    ]
    assert recipes
    assert set(recipes) == set(re.findall(r"secrets\.token_urlsafe\(\d+\)", GENERATE_HINT))


def test_a_completed_transcript_points_to_ask_transcript() -> None:
    hint = next_step("abc123", "completed")
    assert 'ask_transcript (transcript_ids=["abc123"])' in hint
    named = set(re.findall(r"\b([a-z]+(?:_[a-z]+)+) \(", hint)) | set(re.findall(r"with ([a-z_]+)", hint))
    assert named and named <= set(load_default_catalog().tools), named


def test_the_license_file_is_the_mit_license_declared() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "aai-mcp contributors" in text
    assert 'license = "MIT"' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.slow
def test_the_docker_health_check_follows_aai_mcp_port() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    probe = shlex.split(dockerfile.partition("HEALTHCHECK")[2].partition("CMD ")[2].replace("\\\n", " "))
    assert probe[:2] == ["python", "-c"]
    check = [sys.executable, "-c", probe[2]]
    with serve_in_process() as server:
        port = server.base_url.rpartition(":")[2]
        healthy = subprocess.run(check, env=clean_env(AAI_MCP_PORT=port), capture_output=True, timeout=30)
    closed = subprocess.run(
        check, env=clean_env(AAI_MCP_PORT=str(free_port())), capture_output=True, timeout=30
    )
    assert healthy.returncode == 0, healthy.stderr
    assert closed.returncode != 0


def test_the_readme_explains_every_effect_a_token_can_be_limited_to() -> None:
    """`--methods` names effects; the README's table must say what each one means."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| Effect | Means |") :].split("\n\n", 1)[0]
    rows = {line.split("`")[1] for line in table.splitlines()[2:]}
    assert rows == set(get_args(Effect))
