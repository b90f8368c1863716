"""`aai-mcp serve | stdio | simulate | tools | config | doctor | token | db`: flags map one-to-one onto
Settings fields."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from aai_mcp import __version__
from aai_mcp.cli.client_config import CLIENTS
from aai_mcp.cli.db import add_db_command, run_db_command
from aai_mcp.cli.token import add_token_commands, run_token_command
from aai_mcp.config.options import ENV_ONLY, HTTP_ONLY, config_error_lines, env_var, limits
from aai_mcp.config.settings import Settings

# `simulate` binds its own --host/--port (flags only): AAI_MCP_HOST/PORT are for `serve`, and a
# simulator started next to it must neither clash with its port nor follow it onto 0.0.0.0.
SIMULATE_FLAGS = {"simulator_delay_seconds", "log_level"}
SIMULATOR_PORT = 8765


def _flag_type(annotation: Any) -> Any:
    options = [arg for arg in get_args(annotation) if arg is not type(None)] or [annotation]
    first = options[0]
    if first in (int, float):
        return first
    return str


def _help(name: str) -> str:
    field = Settings.model_fields[name]
    bounds = limits(name)
    allowed = f" Must be {bounds}." if bounds else ""
    return f"{field.description}{allowed} [env {env_var(name)}; default {field.default!r}]"


def add_settings_flags(
    parser: argparse.ArgumentParser, only: set[str] | None = None, without: frozenset[str] = frozenset()
) -> None:
    for name, field in Settings.model_fields.items():
        if name in ENV_ONLY | without or (only is not None and name not in only):
            continue
        flag = "--" + name.replace("_", "-")
        help_text = _help(name)
        if field.annotation is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
            )
            continue
        literal = get_args(field.annotation) if "Literal" in str(field.annotation) else None
        parser.add_argument(
            flag,
            type=_flag_type(field.annotation),
            choices=literal or None,
            default=argparse.SUPPRESS,
            help=help_text,
            metavar=name.upper() if not literal else None,
        )


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535)")
    return port


def add_simulate_flags(simulate: argparse.ArgumentParser) -> None:
    simulate.add_argument(
        "--host",
        dest="bind_host",
        default="127.0.0.1",
        metavar="HOST",
        help="Address the simulator binds [default '127.0.0.1'; anything beyond loopback prints a warning].",
    )
    simulate.add_argument(
        "--port",
        dest="bind_port",
        type=_port,
        default=SIMULATOR_PORT,
        metavar="PORT",
        help=f"Port the simulator binds [default {SIMULATOR_PORT}; 0 picks a free port, printed on stderr].",
    )
    add_settings_flags(simulate, SIMULATE_FLAGS)
    simulate.add_argument("--rate-429", type=float, default=0.0, help="Fraction of requests answered 429.")
    simulate.add_argument("--rate-5xx", type=float, default=0.0, help="Fraction of requests answered 5xx.")
    simulate.add_argument("--latency-ms", type=int, default=0, help="Latency added to every request.")
    simulate.add_argument(
        "--key",
        default="sim-key",
        help="The API key the simulator accepts, also needed by its /_sim/ admin routes [default 'sim-key'].",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aai-mcp",
        description="MCP gateway for the AssemblyAI speech API. Set ASSEMBLYAI_API_KEY for the real API; "
        "without it every command runs against the built-in simulator.",
    )
    parser.add_argument("--version", action="version", version=f"aai-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="Serve Streamable HTTP (/mcp), SSE (/sse) and /healthz.")
    add_settings_flags(serve)
    stdio = commands.add_parser("stdio", help="Serve MCP over stdin/stdout (Claude Desktop).")
    add_settings_flags(stdio, without=HTTP_ONLY)
    simulate = commands.add_parser("simulate", help="Run the AssemblyAI simulator alone on a port.")
    add_simulate_flags(simulate)
    add_config_command(commands)
    doctor = commands.add_parser("doctor", help="Check the setup (key, hosts, auth, upload roots, port).")
    add_settings_flags(doctor)
    tools = commands.add_parser("tools", help="List the tool catalog (name, toolset, read-only).")
    tools.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    add_token_commands(commands)
    for db_parser in add_db_command(commands):
        add_settings_flags(db_parser, {"data_dir", "log_level"})
    return parser


def add_config_command(commands: Any) -> None:
    config = commands.add_parser(
        "config",
        help="Print a ready MCP client entry (Claude Desktop, Claude Code, VS Code, Cursor, ChatGPT).",
        description="Print the entry for CLIENT on stdout (where it goes: stderr). The API key and tokens "
        "are placeholders, never real values. Server options (--host, --port, --auth, filters) shape it.",
    )
    config.add_argument("client", choices=CLIENTS, help="The MCP client to configure.")
    config.add_argument(
        "--via",
        choices=["stdio", "url"],
        default=None,
        help="stdio: the client starts `aai-mcp stdio` itself (default, except chatgpt); "
        "url: it connects to a running `aai-mcp serve`.",
    )
    config.add_argument(
        "--url",
        default=None,
        help="The server's public base URL, e.g. https://mcp.example.com (implies url).",
    )
    config.add_argument("--name", default="assemblyai", help="The server's name in the client.")
    add_settings_flags(config)


def settings_from(args: argparse.Namespace, default_roots: list[Path] | None) -> Settings:
    given = {name: value for name, value in vars(args).items() if name in Settings.model_fields}
    settings = Settings(**given)
    if settings.upload_roots is None and default_roots is not None:
        settings = settings.model_copy(update={"upload_roots": default_roots})
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _parse_and_run(argv)
        finally:
            # Flushed here, not at exit, so a reader that left is handled below; this also covers
            # what argparse prints before it exits (--help, --version).
            sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()


def _parse_and_run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except ValidationError as exc:
        for line in config_error_lines(exc):
            print(f"aai-mcp: {line}", file=sys.stderr)
        return 2


def _reader_gone() -> int:
    """The reader of our output left (`aai-mcp tools --json | head`): no traceback, and stdout goes to
    /dev/null so the interpreter's last flush stays quiet too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "token":
        return run_token_command(args, os.environ)
    if args.command == "db":
        return run_db_command(args.db_command, settings_from(args, []), os.environ)
    from aai_mcp.cli import serving

    if args.command == "tools":
        from aai_mcp.cli.tool_list import list_tools

        return list_tools(as_json=args.json)
    if args.command == "config":
        from aai_mcp.cli.client_config import print_client_config

        return print_client_config(args, settings_from(args, None))
    if args.command == "doctor":
        from aai_mcp.cli.doctor import run_doctor

        return run_doctor(settings_from(args, []))
    if args.command == "simulate":
        return serving.simulate(args, settings_from(args, []))
    # Over HTTP nobody's files are readable by default; over stdio the user's own home is.
    roots = [Path.home()] if args.command == "stdio" else []
    settings = settings_from(args, roots)
    if args.command == "stdio":
        return serving.stdio(settings)
    return serving.serve(settings)
