"""How each Settings field is named and what it accepts, for help texts, the README table and errors.

One place derives all three from the field itself (its type and its bounds), so `--help`, the
configuration table and a configuration error can never disagree about an option.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from aai_mcp.config.settings import Settings

# Secrets never come from the command line (shell history, process lists): environment only.
ENV_ONLY = frozenset({"api_key", "token_secrets", "database_url"})
# Options that only mean something for an HTTP listener; `stdio` does not offer them.
HTTP_ONLY = frozenset(
    {
        "auth",
        "insecure_no_auth",
        "token_secrets",
        "token_secret_file",
        "token_revocation_file",
        "data_dir",
        "database_url",
        "accounts",
        "max_concurrent_calls_per_token",
        "host",
        "port",
        "stateless",
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
    }
)


def env_var(name: str) -> str:
    return "ASSEMBLYAI_API_KEY" if name == "api_key" else f"AAI_MCP_{name.upper()}"


def flag(name: str) -> str | None:
    return None if name in ENV_ONLY else "--" + name.replace("_", "-")


def option_names(name: str) -> str:
    """`--port / AAI_MCP_PORT`, or just the variable for environment-only options."""
    cli_flag = flag(name)
    return f"{cli_flag} / {env_var(name)}" if cli_flag else env_var(name)


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
        if isinstance(item, annotated_types.MaxLen):
            found.append(f"at most {item.max_length} characters")
        if getattr(item, "pattern", None):
            found.append(f"matching {item.pattern}")
    if len(found) == 2 and found[0].startswith("at least ") and found[1].startswith("at most "):
        return [f"from {found[0].removeprefix('at least ')} to {found[1].removeprefix('at most ')}"]
    return found


def _base_type(annotation: Any) -> Any:
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) is not Literal and args and get_origin(annotation) is not list:
        return _base_type(args[0])
    return annotation


def accepted(name: str) -> str:
    """What the option accepts, in words: 'a whole number, at least 1000', 'one of: us, eu'."""
    field = Settings.model_fields[name]
    annotation = _base_type(field.annotation)
    if get_origin(annotation) is Literal:
        return "one of: " + ", ".join(str(value) for value in get_args(annotation))
    kinds = {bool: "true or false", int: "a whole number", float: "a number", Path: "a file path"}
    if get_origin(annotation) is list:
        kind = "a comma-separated list"
    else:
        kind = kinds.get(annotation, "text")
    return ", ".join([kind, *_bounds(field)])


def limits(name: str) -> str:
    """The bounds alone ('at least 1000'), for help texts; empty when the option has none."""
    return ", ".join(_bounds(Settings.model_fields[name]))


def _field_of(location: tuple[int | str, ...]) -> str | None:
    head = str(location[0]) if location else ""
    if head in Settings.model_fields:
        return head
    aliases = {field.validation_alias: name for name, field in Settings.model_fields.items()}
    return aliases.get(head)


def error_line(error: ErrorDetails) -> str:
    """One line naming the option (flag and variable) and what it accepts; never the value given."""
    name = _field_of(error["loc"])
    if name is None:
        return f"invalid configuration: {error['msg']}"
    if error["type"] == "value_error":
        reason = str(error["msg"]).removeprefix("Value error, ")
        return f"{option_names(name)}: {reason}"
    return f"{option_names(name)} must be {accepted(name)}"


def config_error_lines(exc: ValidationError) -> list[str]:
    lines = [error_line(error) for error in exc.errors(include_url=False)]
    return list(dict.fromkeys(lines))
