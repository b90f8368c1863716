"""`aai-mcp serve | stdio | simulate | tools`: flags map one-to-one onto Settings fields."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from aai_mcp import __version__
from aai_mcp.access.token_cli import add_token_commands, run_token_command
from aai_mcp.settings import Settings

# Secrets never come from the command line (shell history, process lists): environment only.
NOT_FLAGS = {"api_key", "token_secrets"}
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


def add_settings_flags(parser: argparse.ArgumentParser, only: set[str] | None = None) -> None:
    for name, field in Settings.model_fields.items():
        if name in NOT_FLAGS or (only is not None and name not in only):
            continue
        flag = "--" + name.replace("_", "-")
        env = f"AAI_MCP_{name.upper()}"
        help_text = f"{field.description} [env {env}; default {field.default!r}]"
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
    add_settings_flags(stdio)
    simulate = commands.add_parser("simulate", help="Run the AssemblyAI simulator alone on a port.")
    add_simulate_flags(simulate)
    tools = commands.add_parser("tools", help="List the tool catalog (name, toolset, read-only).")
    tools.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    add_token_commands(commands)
    return parser


def settings_from(args: argparse.Namespace, default_roots: list[Path]) -> Settings:
    given = {name: value for name, value in vars(args).items() if name in Settings.model_fields}
    settings = Settings(**given)
    if settings.upload_roots is None:
        settings = settings.model_copy(update={"upload_roots": default_roots})
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "token":
        return run_token_command(args, os.environ)
    from aai_mcp import commands

    try:
        if args.command == "tools":
            return commands.list_tools(as_json=args.json)
        if args.command == "simulate":
            return commands.simulate(args, settings_from(args, []))
        # Over HTTP nobody's files are readable by default; over stdio the user's own home is.
        roots = [Path.home()] if args.command == "stdio" else []
        settings = settings_from(args, roots)
    except ValidationError as exc:
        print(f"aai-mcp: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    if args.command == "stdio":
        return commands.stdio(settings)
    return commands.serve(settings)
