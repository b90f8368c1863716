"""Build each model of a command from its layers: flag > environment > config file > default.

This is the one way configuration is read: every subcommand's models go through `load_model`, so a
value means the same whichever layer gave it, and an error names the flag, the variable and (when
the file set it) the file key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from aai_mcp.config.config_file import ConfigFile
from aai_mcp.config.options import Model, config_error_lines, env_var

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """Configuration that does not validate: one line per problem, never a value."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class Loaded:
    """The validated models of one command, by model class."""

    command: str
    values: Mapping[Model, BaseModel] = field(default_factory=dict)

    def of(self, model: type[M]) -> M:
        value = self.values[model]
        assert isinstance(value, model)
        return value


def env_values(model: Model, env: Mapping[str, str]) -> dict[str, str]:
    """The model's variables that are set; names match case-insensitively, as pydantic-settings does."""
    lowered = {key.lower(): value for key, value in env.items()}
    found = {}
    for name in model.model_fields:
        variable = env_var(name, model)
        if variable and variable.lower() in lowered:
            found[name] = lowered[variable.lower()]
    return found


def load_model(model: type[M], flags: Mapping[str, Any], env: Mapping[str, str], file: ConfigFile) -> M:
    """`model` from the given flags over the environment over the file over its defaults."""
    from_file = file.values_for(model)
    from_env = env_values(model, env)
    merged = {**from_file, **from_env, **flags}
    # Settings is also a BaseSettings, so code that builds it directly (tests, bench) reads the same
    # variables; here every layer arrives as an argument, which pydantic-settings ranks above its own
    # read of the environment, so the order above is the one that holds.
    try:
        return model(**merged)
    except ValidationError as exc:
        only_file = frozenset(from_file) - frozenset(from_env) - frozenset(flags)
        raise ConfigError(config_error_lines(exc, model, only_file, file.path)) from None
