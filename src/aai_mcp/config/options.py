"""How each option of a command model is named and what it accepts, for help texts, the README table
and errors.

One place derives all of them from the field itself (its type, its bounds and its `Option` marker),
so `--help`, the configuration table, the config file and a configuration error can never disagree
about an option. The defaults: the flag is `--<name>`, the environment variable is the model's prefix
plus the name in capitals, the config file key is the name (inside the model's file section).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from aai_mcp.config.marker import Option
from aai_mcp.config.settings import Settings

Model = type[BaseModel]


def marker(model: Model, name: str) -> Option:
    found = [item for item in model.model_fields[name].metadata if isinstance(item, Option)]
    return found[0] if found else Option()


def env_prefix(model: Model) -> str | None:
    prefix = model.model_config.get("env_prefix")
    return str(prefix) if prefix is not None else getattr(model, "ENV_PREFIX", None)


def file_section(model: Model) -> str | None:
    """The config file table the model's keys live in; None: the top level."""
    return getattr(model, "FILE_SECTION", None)


def env_var(name: str, model: Model = Settings) -> str | None:
    option = marker(model, name)
    if option.env is None:
        return None
    alias = model.model_fields[name].validation_alias
    if option.env:
        return option.env
    if isinstance(alias, str):
        return alias
    prefix = env_prefix(model)
    return None if prefix is None else f"{prefix}{name.upper()}"


def flag(name: str, model: Model = Settings) -> str | None:
    option = marker(model, name)
    if option.secret or option.flag is None or option.positional:
        return None
    return option.flag or "--" + name.replace("_", "-")


def file_key(name: str, model: Model = Settings) -> str | None:
    """The key in the config file (`port`, `simulate.port`); None when the file may not set it."""
    option = marker(model, name)
    if option.secret or not option.file:
        return None
    section = file_section(model)
    return f"{section}.{name}" if section else name


def option_names(name: str, model: Model = Settings, from_file: Path | None = None) -> str:
    """`--port / AAI_MCP_PORT`, the variable alone for secrets, and the file key when it set the value."""
    names = [item for item in (flag(name, model), env_var(name, model)) if item] or [name.upper()]
    key = file_key(name, model)
    if from_file is not None and key:
        names.append(f"{key} in {from_file}")
    return " / ".join(names)


def _bounds(field: FieldInfo) -> list[str]:
    words = {
        annotated_types.Ge: ("ge", "at least {}"),
        annotated_types.Gt: ("gt", "more than {}"),
        annotated_types.Le: ("le", "at most {}"),
        annotated_types.Lt: ("lt", "less than {}"),
    }
    found = []
    for item in field.metadata:
        for kind, (attribute, template) in words.items():
            if isinstance(item, kind):
                found.append(template.format(getattr(item, attribute)))
        if isinstance(item, annotated_types.MinLen):
            found.append(f"at least {item.min_length} character{'' if item.min_length == 1 else 's'}")
        if isinstance(item, annotated_types.MaxLen):
            found.append(f"at most {item.max_length} characters")
        if getattr(item, "pattern", None):
            found.append(f"matching {item.pattern}")
    if len(found) == 2 and found[0].startswith("at least ") and found[1].startswith("at most "):
        return [f"from {found[0].removeprefix('at least ')} to {found[1].removeprefix('at most ')}"]
    return found


def base_type(annotation: Any) -> Any:
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) is not Literal and args and get_origin(annotation) is not list:
        return base_type(args[0])
    return annotation


def accepted(name: str, model: Model = Settings) -> str:
    """What the option accepts, in words: 'a whole number, at least 1000', 'one of: us, eu'."""
    field = model.model_fields[name]
    annotation = base_type(field.annotation)
    if get_origin(annotation) is Literal:
        return "one of: " + ", ".join(str(value) for value in get_args(annotation))
    kinds = {bool: "true or false", int: "a whole number", float: "a number", Path: "a file path"}
    if get_origin(annotation) is list:
        kind = "a comma-separated list"
    else:
        kind = kinds.get(annotation, "text")
    return ", ".join([kind, *_bounds(field)])


def limits(name: str, model: Model = Settings) -> str:
    """The bounds alone ('at least 1000'), for help texts; empty when the option has none."""
    return ", ".join(_bounds(model.model_fields[name]))


def _field_of(model: Model, location: tuple[int | str, ...]) -> str | None:
    head = str(location[0]) if location else ""
    if head in model.model_fields:
        return head
    aliases = {field.validation_alias: name for name, field in model.model_fields.items()}
    return aliases.get(head)


def error_line(
    error: ErrorDetails,
    model: Model = Settings,
    file_fields: frozenset[str] = frozenset(),
    file: Path | None = None,
) -> str:
    """One line naming the option (flag, variable, file key) and what it accepts; never the value given."""
    name = _field_of(model, error["loc"])
    if name is None:
        return f"invalid configuration: {str(error['msg']).removeprefix('Value error, ')}"
    names = option_names(name, model, file if name in file_fields else None)
    if error["type"] == "value_error":
        reason = str(error["msg"]).removeprefix("Value error, ")
        return f"{names}: {reason}"
    if error["type"] == "missing":
        return f"{names} is required"
    return f"{names} must be {accepted(name, model)}"


def config_error_lines(
    exc: ValidationError,
    model: Model = Settings,
    file_fields: frozenset[str] = frozenset(),
    file: Path | None = None,
) -> list[str]:
    lines = [error_line(error, model, file_fields, file) for error in exc.errors(include_url=False)]
    return list(dict.fromkeys(lines))


def secret_fields(model: Model) -> frozenset[str]:
    return frozenset(name for name in model.model_fields if marker(model, name).secret)


# Secrets never come from the command line (shell history, process lists) nor the config file.
ENV_ONLY = secret_fields(Settings)
# Options that only mean something for an HTTP listener; `stdio` does not offer them.
HTTP_ONLY = frozenset(
    {
        "auth",
        "insecure_no_auth",
        "oauth_operator_password_hash",
        "oauth_access_token_seconds",
        "oauth_refresh_token_days",
        "oauth_client_metadata_private_hosts",
        "oauth_client_metadata_timeout_seconds",
        "token_secrets",
        "token_secret_file",
        "token_revocation_file",
        "data_dir",
        "database_url",
        "accounts",
        "team_quotas",
        "delivery_destinations",
        "delivery_max_attempts",
        "delivery_retry_seconds",
        "delivery_timeout_seconds",
        "max_concurrent_calls_per_token",
        "metrics",
        "host",
        "port",
        "stateless",
        "workers",
        "json_response",
        "allowed_hosts",
        "allowed_origins",
        "max_request_body_bytes",
        "instance_id",
        "shutdown_grace_seconds",
        "max_sessions",
        "max_sessions_per_principal",
        "session_idle_timeout_seconds",
        "max_sse_streams",
        "max_sse_streams_per_principal",
        "request_header_timeout_seconds",
        "request_body_timeout_seconds",
        "response_stall_timeout_seconds",
        "stream_recheck_seconds",
        "keep_alive_timeout_seconds",
        "max_connections",
        "redis_url",
    }
)
