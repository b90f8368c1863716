"""One configuration path: flag > environment > config file > default, for every command's models; the
config file's rules; `--help` and the README generated from the same models."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from aai_mcp.cli.flags import Command, Group, build_parser, loaded_from
from aai_mcp.cli.main import COMMANDS, load_command, main
from aai_mcp.cli.main import build_parser as build_cli_parser
from aai_mcp.cli.readme_tables import README, config_rows, rendered_readme
from aai_mcp.config.command_options import CommandOptions, MintOptions, SimulateOptions, TokenKeys
from aai_mcp.config.config_file import ConfigFile, read_config_file
from aai_mcp.config.layers import Loaded
from aai_mcp.config.options import env_var, file_key, flag, marker
from aai_mcp.config.settings import Settings

CANARY = "canary-value-never-printed-9f3e"


@pytest.fixture(autouse=True)
def no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("AAI_MCP_") or name == "ASSEMBLYAI_API_KEY"]:
        monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aai-mcp.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- precedence: each level, for a server setting, a simulator option and a token option -------------

# (argv of the command, model, field, file line, env value, flag, default, file value, env, flag value)
LEVELS: list[tuple[list[str], type[BaseModel], str, str, str, list[str], Any, Any, Any, Any]] = [
    (["serve"], Settings, "port", "port = 9001", "9002", ["--port", "9003"], 8000, 9001, 9002, 9003),
    (
        ["simulate"],
        SimulateOptions,
        "latency_ms",
        "[simulate]\nlatency_ms = 11",
        "12",
        ["--latency-ms", "13"],
        0,
        11,
        12,
        13,
    ),
    (
        ["token", "revoke", "tok_abcdefgh2345"],
        TokenKeys,
        "token_revocation_file",
        'token_revocation_file = "/from/file"',
        "/from/env",
        ["--revocation-file", "/from/flag"],
        None,
        Path("/from/file"),
        Path("/from/env"),
        Path("/from/flag"),
    ),
]


@pytest.mark.parametrize("case", LEVELS, ids=[case[2] for case in LEVELS])
def test_flag_beats_env_beats_file_beats_default(tmp_path: Path, case: tuple[Any, ...]) -> None:
    argv, model, name, line, env_value, flag_args, default, from_file, from_env, from_flag = case
    variable = env_var(name, model)
    assert variable
    path = write(tmp_path, line + "\n")

    def value(extra: list[str], env: dict[str, str]) -> Any:
        return getattr(load_command([*argv, *extra], env).of(model), name)

    assert value([], {}) == default
    assert value(["--config", str(path)], {}) == from_file
    assert value([], {"AAI_MCP_CONFIG": str(path)}) == from_file
    assert value(["--config", str(path)], {variable: env_value}) == from_env
    assert value(["--config", str(path), *flag_args], {variable: env_value}) == from_flag


def test_the_config_flag_beats_the_config_variable(tmp_path: Path) -> None:
    chosen = write(tmp_path, "port = 9100\n")
    other = tmp_path / "other.toml"
    other.write_text("port = 9200\n")
    loaded = load_command(["serve", "--config", str(chosen)], {"AAI_MCP_CONFIG": str(other)})
    assert loaded.of(Settings).port == 9100


def test_file_values_have_toml_types_and_lists(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'auth = ["tokens", "passthrough-key"]\nread_only = true\nupload_roots = ["~/audio"]\n'
        "timeout_seconds = 12.5\n",
    )
    settings = load_command(["serve", "--config", str(path)], {}).of(Settings)
    assert settings.auth == ["tokens", "passthrough-key"]
    assert settings.read_only is True and settings.timeout_seconds == 12.5
    assert settings.upload_roots == [Path("~/audio").expanduser()]


def test_the_token_mint_scopes_do_not_pick_up_the_server_filters(tmp_path: Path) -> None:
    """`AAI_MCP_TOOLS` filters what serve offers; it must not narrow a token minted on the same shell."""
    path = write(tmp_path, 'tools = ["get_transcript"]\n')
    env = {"AAI_MCP_TOOLS": "list_transcripts", "AAI_MCP_METHODS": "read", "AAI_MCP_CONFIG": str(path)}
    loaded = load_command(["token", "mint", "--name", "ci"], env)
    mint = loaded.of(MintOptions)
    assert (mint.tools, mint.methods) == (None, None)


# --- the config file's rules ---------------------------------------------------------------------------


def one_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and CANARY not in err
    return lines[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prot = 9000\n", "unknown key 'prot'; did you mean 'port'?"),
        ("[simulate]\nlatency = 5\n", "unknown key [simulate] 'latency'; did you mean 'latency_ms'?"),
        ("frobnicate = 1\n", "unknown key 'frobnicate'"),
        ("simulate = 3\n", "[simulate] must be a table of options"),
        ('name = "x"\n', "'name' is an argument of one command, give it as a flag"),
    ],
)
def test_unknown_or_misplaced_keys_are_one_line_naming_the_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    assert one_error(capsys, ["serve", "--config", str(path)]) == f"aai-mcp: {path}: {expected}"


@pytest.mark.parametrize(
    ("key", "variable", "hint"),
    [
        ("api_key", "ASSEMBLYAI_API_KEY", ""),
        ("token_secrets", "AAI_MCP_TOKEN_SECRETS", " (or list them in a file named by token_secret_file)"),
    ],
)
def test_secrets_in_the_file_are_refused_pointing_at_the_variable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, key: str, variable: str, hint: str
) -> None:
    path = write(tmp_path, f'{key} = "{CANARY}"\n')
    for command in (["serve"], ["doctor"], ["token", "mint", "--name", "ci"]):
        line = one_error(capsys, [*command, "--config", str(path)])
        assert line == (
            f"aai-mcp: {path}: '{key}' is a secret, which is never read from the config file: "
            f"set {variable} in the environment instead{hint}"
        )


def test_an_unreadable_or_malformed_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.toml"
    assert one_error(capsys, ["serve", "--config", str(missing)]) == (
        f"aai-mcp: cannot read the config file {missing}: No such file or directory"
    )
    broken = write(tmp_path, f'region = "{CANARY}\n')
    assert one_error(capsys, ["serve", "--config", str(broken)]).startswith(
        f"aai-mcp: the config file {broken} is not valid TOML: "
    )


def test_a_bad_value_from_the_file_names_the_key_and_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path, f'max_result_chars = 10\n[simulate]\nrate_429 = 2.0\nkey = ""\nhost = "{CANARY}"\n'
    )
    assert one_error(capsys, ["serve", "--config", str(path)]) == (
        f"aai-mcp: --max-result-chars / AAI_MCP_MAX_RESULT_CHARS / max_result_chars in {path} "
        "must be a whole number, at least 1000"
    )
    # The environment overrides the file's bad value: then nothing is wrong.
    monkeypatch.setenv("AAI_MCP_MAX_RESULT_CHARS", "5000")
    assert main(["simulate", "--config", str(path), "--rate-429", "3"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"aai-mcp: --key / AAI_MCP_SIMULATOR_KEY / simulate.key in {path} must be text, at least 1 character",
        "aai-mcp: --rate-429 / AAI_MCP_SIMULATOR_RATE_429 must be a number, from 0 to 1",
    ]


def test_simulator_flags_are_validated_like_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert one_error(capsys, ["simulate", "--port", "70000"]) == (
        "aai-mcp: --port / AAI_MCP_SIMULATOR_PORT must be a whole number, from 0 to 65535"
    )
    assert one_error(capsys, ["simulate", "--rate-429", "0.6", "--rate-5xx", "0.6"]) == (
        "aai-mcp: invalid configuration: --rate-429 plus --rate-5xx must not exceed 1"
    )


def test_the_file_holds_keys_of_every_command_and_each_takes_its_own(tmp_path: Path) -> None:
    path = write(tmp_path, "port = 9300\n[simulate]\nport = 9400\n")
    file = read_config_file(path, [Settings, SimulateOptions, TokenKeys])
    assert file.values_for(Settings) == {"port": 9300}
    assert file.values_for(SimulateOptions) == {"port": 9400}
    assert file.values_for(TokenKeys) == {}
    loaded = load_command(["simulate", "--config", str(path)], {})
    assert (loaded.of(SimulateOptions).port, loaded.of(Settings).port) == (9400, 9300)


# --- --help and the README, from the same models --------------------------------------------------------


def subparser(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    for word in words:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return parser


@pytest.mark.parametrize("command", COMMANDS, ids=[command.name for command in COMMANDS])
def test_help_lists_every_field_of_the_commands_models(command: Command) -> None:
    text = subparser(build_cli_parser(), command.name.split()).format_help()
    flat = " ".join(text.split())
    for group in command.groups:
        for name in group.fields():
            model = group.model
            shown = flag(name, model) or (
                name.upper() if marker(model, name).positional else env_var(name, model)
            )
            assert shown and shown in text, f"{command.name} --help does not list {name}"
            description = str(model.model_fields[name].description)
            assert " ".join(description.split()[:4]) in flat or marker(model, name).secret, name
            variable = env_var(name, model)
            if variable and not marker(model, name).secret:
                assert f"env {variable}" in flat, f"{command.name} --help does not name {variable}"
    assert "--config PATH" in text


def test_the_readme_configuration_table_is_current() -> None:
    current = README.read_text(encoding="utf-8")
    assert rendered_readme(current) == current, "run: python -m aai_mcp.cli.readme_tables"


def test_every_row_names_commands_that_accept_its_flags() -> None:
    by_name = {command.name: command for command in COMMANDS}
    root = build_cli_parser()  # once: building it per row made this the slowest unit test
    for row in config_rows():
        for command_name in row.commands:
            command = by_name[command_name]
            parser = subparser(root, command_name.split())
            offered = set(parser._option_string_actions)
            accepted = [item for item in row.flags if item in offered]
            assert (
                accepted
                or not flag(row.name, row.model)
                or row.name not in {name for group in command.groups for name in group.flagged()}
            ), (row.name, command_name)
        key = file_key(row.name, row.model)
        assert key is None or key.split(".")[-1] == row.name


# --- a new subcommand is a model and a run function ------------------------------------------------------


class DemoOptions(CommandOptions):
    ENV_PREFIX = "AAI_MCP_DEMO_"
    FILE_SECTION = "demo"

    level: int = Field(1, ge=0, le=9, description="How loud the demo is.")
    label: str = Field("plain", description="What the demo prints.")


def test_a_new_command_gets_flags_env_file_help_and_errors_from_its_model(tmp_path: Path) -> None:
    ran: list[Loaded] = []

    def run(loaded: Loaded) -> int:
        ran.append(loaded)
        return 0

    commands = [Command("demo", "A demo.", (Group(DemoOptions),), run)]
    parser = build_parser("demo-cli", "Demo.", commands, {})
    help_text = " ".join(subparser(parser, ["demo"]).format_help().split())
    assert (
        "How loud the demo is. Must be from 0 to 9. [env AAI_MCP_DEMO_LEVEL; file demo.level; default 1]"
        in (help_text)
    )
    path = write(tmp_path, '[demo]\nlabel = "from file"\nlevel = 4\n')
    file = read_config_file(path, [DemoOptions])
    args = parser.parse_args(["demo", "--level", "7"])
    loaded = loaded_from(args, {"AAI_MCP_DEMO_LABEL": "from env"}, file)
    assert args.command_entry.run(loaded) == 0
    assert ran[0].of(DemoOptions) == DemoOptions(level=7, label="from env")
    with pytest.raises(Exception, match=r"--level / AAI_MCP_DEMO_LEVEL must be a whole number, from 0 to 9"):
        loaded_from(parser.parse_args(["demo", "--level", "12"]), {}, ConfigFile())


def test_two_models_offering_the_same_flag_fail_at_build_time() -> None:
    clash = Command(
        "clash", "Clash.", (Group(SimulateOptions), Group(Settings, only=frozenset({"port"}))), lambda _: 0
    )
    with pytest.raises(ValueError, match=r"clash: two models offer \['port'\]"):
        build_parser("x", "x", [clash], {})
