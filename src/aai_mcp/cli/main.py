"""`aai-mcp serve | stdio | simulate | tools | config | doctor | token | oauth | db | keys | usage |
archive | catalog`: one table,
command -> models -> run function.

Every flag, environment variable, config file key, help text and error message is derived from the
models' fields (`aai_mcp.cli.flags`, `aai_mcp.config`). A new subcommand is a new model (or a group of
an existing one) plus a run function, added as one row of COMMANDS.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aai_mcp import __version__
from aai_mcp.cli.flags import Command, Group, loaded_from
from aai_mcp.cli.flags import build_parser as build_command_parser
from aai_mcp.cli.oauth_admin import PARENT as OAUTH_PARENT
from aai_mcp.cli.oauth_admin import oauth_commands
from aai_mcp.config.archive_options import BackfillOptions, SyncOptions
from aai_mcp.config.command_options import (
    CatalogDiffOptions,
    ClientConfigOptions,
    InspectOptions,
    KeyEnableOptions,
    MintOptions,
    RevokeOptions,
    SimulateOptions,
    TokenKeys,
    TokenListOptions,
    ToolListOptions,
    UsageOptions,
)
from aai_mcp.config.config_file import ConfigFileError, config_path, read_config_file
from aai_mcp.config.delivery_options import DeliverOptions, ExportOptions, RedeliverOptions
from aai_mcp.config.extract_options import ExtractOptions
from aai_mcp.config.layers import ConfigError, Loaded
from aai_mcp.config.options import HTTP_ONLY, config_error_lines
from aai_mcp.config.settings import Settings

DESCRIPTION = (
    "MCP gateway for the AssemblyAI speech API. Set ASSEMBLYAI_API_KEY for the real API; without it "
    "every command runs against the built-in simulator."
)


def with_roots(settings: Settings, default_roots: list[Path] | None) -> Settings:
    """Upload roots left unset take the command's default: none over HTTP, the home directory over stdio."""
    if settings.upload_roots is None and default_roots is not None:
        return settings.model_copy(update={"upload_roots": default_roots})
    return settings


def run_serve(loaded: Loaded) -> int:
    from aai_mcp.cli import serving

    return serving.serve(with_roots(loaded.of(Settings), []))


def run_stdio(loaded: Loaded) -> int:
    from aai_mcp.cli import serving

    return serving.stdio(with_roots(loaded.of(Settings), [Path.home()]))


def run_simulate(loaded: Loaded) -> int:
    from aai_mcp.cli import serving

    return serving.simulate(loaded.of(SimulateOptions), loaded.of(Settings))


def run_config(loaded: Loaded) -> int:
    from aai_mcp.cli.client_config import print_client_config

    return print_client_config(loaded.of(ClientConfigOptions), loaded.of(Settings))


def run_doctor(loaded: Loaded) -> int:
    from aai_mcp.cli.doctor import run_doctor as doctor

    return doctor(with_roots(loaded.of(Settings), []))


def run_tools(loaded: Loaded) -> int:
    from aai_mcp.cli.tool_list import list_tools

    return list_tools(as_json=loaded.of(ToolListOptions).json_output)


def run_db(loaded: Loaded) -> int:
    from aai_mcp.cli.db import run_db_command

    return run_db_command(loaded.command.removeprefix("db "), loaded.of(Settings), os.environ)


def run_keys(loaded: Loaded) -> int:
    from aai_mcp.cli.key_pool_admin import enable_key, list_keys

    if loaded.command == "keys enable":
        return enable_key(loaded.of(Settings), loaded.of(KeyEnableOptions).name)
    return list_keys(loaded.of(Settings))


def run_usage(loaded: Loaded) -> int:
    from aai_mcp.cli.usage_report import show_usage

    return show_usage(loaded.of(UsageOptions), loaded.of(Settings))


def run_archive(loaded: Loaded) -> int:
    from aai_mcp.cli.archive_admin import run_backfill

    return run_backfill(loaded.of(BackfillOptions), loaded.of(Settings))


def run_archive_sync(loaded: Loaded) -> int:
    from aai_mcp.cli.archive_admin import run_sync

    return run_sync(loaded.of(SyncOptions), loaded.of(Settings))


def run_archive_duplicates(loaded: Loaded) -> int:
    from aai_mcp.cli.archive_duplicates import show_duplicates

    return show_duplicates(loaded.of(Settings))


def run_archive_delivery(loaded: Loaded) -> int:
    from aai_mcp.cli.archive_delivery import run_deliver, run_redeliver
    from aai_mcp.cli.archive_export import run_export

    if loaded.command == "archive export":
        return run_export(loaded.of(ExportOptions), loaded.of(Settings))
    if loaded.command == "archive redeliver":
        return run_redeliver(loaded.of(RedeliverOptions), loaded.of(Settings))
    return run_deliver(loaded.of(DeliverOptions), loaded.of(Settings))


def run_archive_extract(loaded: Loaded) -> int:
    from aai_mcp.cli.archive_extract import run_extract

    return run_extract(loaded.of(ExtractOptions), loaded.of(Settings))


def run_catalog_diff(loaded: Loaded) -> int:
    from aai_mcp.cli.catalog_diff import run_catalog_diff as catalog_diff

    return catalog_diff(loaded.of(CatalogDiffOptions))


def run_token(loaded: Loaded) -> int:
    from aai_mcp.cli.token import run_token_command

    return run_token_command(loaded)


SIMULATE_SETTINGS = frozenset({"simulator_delay_seconds", "simulator_time_scale", "log_level"})
SECRET_FILE = frozenset({"token_secret_file", "token_secrets"})
REVOCATION_FILE = frozenset({"token_revocation_file"})
STORE = frozenset({"data_dir", "database_url"})
POOL = STORE | {"accounts", "api_key"}
DELIVERY = frozenset(
    {"delivery_destinations", "delivery_max_attempts", "delivery_retry_seconds", "delivery_timeout_seconds"}
)
LLM = frozenset(
    {"llm_gateway_base_url", "llm_models", "llm_default_model", "ask_max_context_chars"}
    | {"extraction_kits_dir"}
)
UPSTREAM = frozenset(
    {"api_key", "region", "api_base_url", "timeout_seconds", "connect_timeout_seconds", "get_retries"}
)

# What backfill and sync read: the store, upstream, and --accounts (each configured key's transcripts).
ARCHIVE_SETTINGS = STORE | UPSTREAM | DELIVERY | {"retry_backoff_seconds", "accounts"}
COMMANDS: tuple[Command, ...] = (
    Command("serve", "Serve Streamable HTTP (/mcp), SSE (/sse) and /healthz.", (Group(Settings),), run_serve),
    Command(
        "stdio",
        "Serve MCP over stdin/stdout (Claude Desktop).",
        (Group(Settings, without=HTTP_ONLY),),
        run_stdio,
    ),
    Command(
        "simulate",
        "Run the AssemblyAI simulator alone on a port.",
        (Group(SimulateOptions), Group(Settings, only=SIMULATE_SETTINGS)),
        run_simulate,
    ),
    Command(
        "config",
        "Print a ready MCP client entry (Claude Desktop, Claude Code, VS Code, Cursor, ChatGPT).",
        (Group(ClientConfigOptions), Group(Settings)),
        run_config,
        description="Print the entry for CLIENT on stdout (where it goes: stderr). The API key and tokens "
        "are placeholders, never real values. Server options (--host, --port, --auth, filters) shape it.",
    ),
    Command(
        "doctor", "Check the setup (key, hosts, auth, upload roots, port).", (Group(Settings),), run_doctor
    ),
    Command(
        "tools", "List the tool catalog (name, toolset, read-only).", (Group(ToolListOptions),), run_tools
    ),
    Command(
        "catalog diff",
        "Compare the tool catalog with newer AssemblyAI specs (OpenAPI files, SDK fields lists): per "
        "tool, parameters upstream added, deprecated or removed, type and bound changes, new endpoints; "
        "exits 1 on a difference tool_schemas/upstream/omissions.yaml does not explain.",
        (Group(CatalogDiffOptions),),
        run_catalog_diff,
    ),
    Command(
        "token mint",
        "Create a signed, expiring token with the given scopes (recorded in the store: token list).",
        (Group(MintOptions), Group(TokenKeys, only=SECRET_FILE | STORE)),
        run_token,
    ),
    Command(
        "token inspect",
        "Show what a token allows and whether it is still valid.",
        (Group(InspectOptions), Group(TokenKeys)),
        run_token,
    ),
    Command(
        "token revoke",
        "Revoke a token: in the store every server follows (SQLite under the data directory, or "
        "PostgreSQL at AAI_MCP_DATABASE_URL), or in the revocation file when one is given.",
        (Group(RevokeOptions), Group(TokenKeys, only=REVOCATION_FILE | STORE)),
        run_token,
    ),
    *oauth_commands(STORE),
    Command(
        "token list",
        "List the issued tokens recorded in the store (never their secrets): scopes, account, expiry, "
        "creator, created, last used.",
        (Group(TokenListOptions), Group(TokenKeys, only=STORE)),
        run_token,
    ),
    Command(
        "token prune",
        "Delete the records of expired tokens from the store (serve also does it every hour).",
        (Group(TokenKeys, only=STORE),),
        run_token,
    ),
    Command(
        "db upgrade",
        "Bring the store's schema to the newest version (PostgreSQL needs this once per release; "
        "SQLite is upgraded at start anyway).",
        (Group(Settings, only=STORE),),
        run_db,
    ),
    Command(
        "db current",
        "Show where the store is and its schema version.",
        (Group(Settings, only=STORE),),
        run_db,
    ),
    Command(
        "keys list",
        "List the upstream keys of every account by name (never value): weight, and usable, cooling "
        "down or disabled, as every instance sees it in the store.",
        (Group(Settings, only=POOL),),
        run_keys,
    ),
    Command(
        "keys enable",
        "Put a pooled key that upstream rejected (401/403) back in use, on every instance.",
        (Group(KeyEnableOptions), Group(Settings, only=STORE)),
        run_keys,
    ),
    Command(
        "usage",
        "Show each team's usage from the store (audio hours, transcripts, LLM tokens, streaming "
        "seconds), as every instance recorded it.",
        (Group(UsageOptions), Group(Settings, only=STORE)),
        run_usage,
    ),
    Command(
        "archive backfill",
        "Copy AssemblyAI's transcripts (the last 90 days') into the store, paced under the rate limit; "
        "stopped anywhere, the same command resumes where it stopped.",
        (Group(BackfillOptions), Group(Settings, only=ARCHIVE_SETTINGS)),
        run_archive,
    ),
    Command(
        "archive sync",
        "Store the transcripts new or newly completed since the last sync (a checkpoint in the store), "
        "once or --every interval; one sync at a time (a lease in the store), a second one says so and "
        "exits 0.",
        (Group(SyncOptions), Group(Settings, only=ARCHIVE_SETTINGS)),
        run_archive_sync,
    ),
    Command(
        "archive duplicates",
        "List archived transcripts of the same audio (its SHA-256, taken as the upload went through "
        "aai-mcp): per account and hash, oldest first, with dates.",
        (Group(Settings, only=STORE),),
        run_archive_duplicates,
    ),
    Command(
        "archive deliver",
        "Deliver the outbox (newly archived transcripts, extraction results) to the configured "
        "destinations, signed, retried with backoff; until Ctrl-C, or --drain until nothing is pending.",
        (Group(DeliverOptions), Group(Settings, only=STORE | DELIVERY)),
        run_archive_delivery,
    ),
    Command(
        "archive redeliver",
        "List the dead letters (deliveries whose last try failed), or replay them (--all, --id) now.",
        (Group(RedeliverOptions), Group(Settings, only=STORE | DELIVERY)),
        run_archive_delivery,
    ),
    Command(
        "archive export",
        "Write the archive as rows (one per transcript, utterance or extracted field) in JSONL, CSV or "
        "Parquet, streamed in constant memory.",
        (Group(ExportOptions), Group(Settings, only=STORE)),
        run_archive_delivery,
    ),
    Command(
        "archive extract",
        "Run an extraction kit (--kit) over the archive's completed transcripts through the LLM Gateway, "
        "paced under the rate limit; results still current for the kit and the text are skipped, so the "
        "same command resumes where it stopped.",
        (Group(ExtractOptions), Group(Settings, only=STORE | UPSTREAM | LLM)),
        run_archive_extract,
    ),
)
PARENTS = {
    "catalog": "The tool catalog against AssemblyAI's specs.",
    "token": "Mint, inspect, revoke and list scoped access tokens.",
    "oauth": OAUTH_PARENT,
    "db": "The durable store: show its schema version, or upgrade it.",
    "keys": "The upstream key pool: list the keys' states, enable a rejected key.",
    "archive": "The transcript archive in the store: backfill it from AssemblyAI, sync it, extract "
    "typed fields from it, deliver and export it.",
}


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = build_command_parser("aai-mcp", DESCRIPTION, COMMANDS, PARENTS)
    parser.add_argument("--version", action="version", version=f"aai-mcp {__version__}")
    return parser


def config_models() -> list[Any]:
    """Every model a command uses: the config file may hold keys of any of them."""
    return list(dict.fromkeys(group.model for command in COMMANDS for group in command.groups))


def load_command(argv: Sequence[str] | None, env: Mapping[str, str]) -> Loaded:
    """Parse `argv` and build the command's models from flags, `env` and the config file."""
    args = build_parser().parse_args(argv)
    file = read_config_file(config_path(getattr(args, "config_file", None), env), config_models())
    return loaded_from(args, env, file)


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
    try:
        loaded = load_command(argv, os.environ)
        entry = next(command for command in COMMANDS if command.name == loaded.command)
        return entry.run(loaded)
    except ConfigError as exc:
        return _config_problem(exc.lines)
    except ConfigFileError as exc:
        return _config_problem([str(exc)])
    except ValidationError as exc:  # settings rebuilt after start-up (model_copy never validates)
        return _config_problem(config_error_lines(exc))


def _config_problem(lines: list[str]) -> int:
    for line in lines:
        print(f"aai-mcp: {line}", file=sys.stderr)
    return 2


def _reader_gone() -> int:
    """The reader of our output left (`aai-mcp tools --json | head`): no traceback, and stdout goes to
    /dev/null so the interpreter's last flush stays quiet too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1
