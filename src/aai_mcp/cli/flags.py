"""argparse generated from the command table: every flag, its help and its type come from a model field.

Only the parsing is argparse's: the defaults are left to the models (`argparse.SUPPRESS`), so a flag
that was not given lets the environment, the config file or the default speak
(`aai_mcp.config.layers`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic_core import PydanticUndefined

from aai_mcp.config.config_file import CONFIG_ENV, CONFIG_FLAG, ConfigFile
from aai_mcp.config.layers import Loaded, load_model
from aai_mcp.config.options import Model, base_type, env_var, file_key, flag, limits, marker


@dataclass(frozen=True)
class Group:
    """The fields of one model a command offers (all of them unless narrowed)."""

    model: Model
    only: frozenset[str] | None = None
    without: frozenset[str] = frozenset()

    def fields(self) -> list[str]:
        return [
            name
            for name in self.model.model_fields
            if name not in self.without and (self.only is None or name in self.only)
        ]

    def flagged(self) -> list[str]:
        """The fields this command takes on its command line (secrets never are)."""
        return [
            name for name in self.fields() if flag(name, self.model) or marker(self.model, name).positional
        ]


@dataclass(frozen=True)
class Command:
    """A subcommand: its name (`token mint` nests), its models, and the function that runs it."""

    name: str
    help: str
    groups: tuple[Group, ...]
    run: Callable[[Loaded], int]
    description: str | None = None


def secrets_epilog(command: Command) -> str | None:
    """The secrets a command reads, which have no flag: --help still names every option it takes."""
    names = [
        variable
        for group in command.groups
        for name in group.fields()
        if marker(group.model, name).secret and (variable := env_var(name, group.model))
    ]
    unique = list(dict.fromkeys(names))
    return f"Secrets, from the environment only: {', '.join(unique)}." if unique else None


def help_text(name: str, model: Model) -> str:
    field = model.model_fields[name]
    bounds = limits(name, model)
    text = f"{field.description}{f' Must be {bounds}.' if bounds else ''}"
    where = [f"env {variable}"] if (variable := env_var(name, model)) else []
    if key := file_key(name, model):
        where.append(f"file {key}")
    if not field.is_required():
        where.append(f"default {field.default!r}")
    return f"{text} [{'; '.join(where)}]" if where else text


def _argument(name: str, model: Model) -> dict[str, Any]:
    field = model.model_fields[name]
    kind = base_type(field.annotation)
    options: dict[str, Any] = {"help": help_text(name, model)}
    if kind is bool:
        return {**options, "action": argparse.BooleanOptionalAction, "default": argparse.SUPPRESS}
    if get_origin(kind) is Literal:
        options["choices"] = [str(value) for value in get_args(kind)]
    else:
        options["type"] = kind if kind in (int, float) else str
        options["metavar"] = (flag(name, model) or name).lstrip("-").replace("-", "_").upper()
    if marker(model, name).positional:
        # A list positional (`catalog diff SPEC...`) takes one or more values.
        return {**options, "nargs": "+"} if get_origin(kind) is list else options
    required = field.default is PydanticUndefined and field.default_factory is None
    return {**options, "default": argparse.SUPPRESS, "required": required}


def add_group(parser: argparse.ArgumentParser, group: Group) -> None:
    for name in group.flagged():
        spec = _argument(name, group.model)
        cli_flag = flag(name, group.model)
        if cli_flag:
            parser.add_argument(cli_flag, dest=name, **spec)
        else:
            parser.add_argument(name, **spec)


def add_command(parser: argparse.ArgumentParser, command: Command) -> None:
    names = [name for group in command.groups for name in group.flagged()]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"{command.name}: two models offer {duplicated}; rename one")
    for group in command.groups:
        add_group(parser, group)
    parser.add_argument(
        CONFIG_FLAG,
        dest="config_file",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"Config file (TOML); flags beat the environment, which beats the file [env {CONFIG_ENV}].",
    )
    parser.set_defaults(command_entry=command)


def build_parser(prog: str, description: str, commands: Sequence[Command], parents: Mapping[str, str]) -> Any:
    """The top parser and one sub-parser per command; `parents` gives the help of grouping words."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    top = parser.add_subparsers(dest="command", required=True)
    nested: dict[str, Any] = {}
    for command in commands:
        head, _, leaf = command.name.partition(" ")
        if not leaf:
            sub = top.add_parser(
                head,
                help=command.help,
                description=command.description or command.help,
                epilog=secrets_epilog(command),
            )
        else:
            if head not in nested:
                group = top.add_parser(head, help=parents[head])
                nested[head] = group.add_subparsers(dest=f"{head}_command", required=True)
            sub = nested[head].add_parser(
                leaf, help=command.help, description=command.description, epilog=secrets_epilog(command)
            )
        add_command(sub, command)
    return parser


def loaded_from(args: argparse.Namespace, env: Mapping[str, str], file: ConfigFile) -> Loaded:
    """Every model of the parsed command, each from its flags, the environment and the file."""
    command: Command = args.command_entry
    given = vars(args)
    values = {}
    for group in command.groups:
        flags = {name: given[name] for name in group.flagged() if name in given}
        values[group.model] = load_model(group.model, flags, env, file)
    return Loaded(command.name, values)
