"""The optional config file (TOML): `--config PATH` or `AAI_MCP_CONFIG`.

Top-level keys are server settings (`port = 9000`); a command's own options sit in its table
(`[simulate]`). Unknown keys are an error naming the key, so a typo never falls back to a default
silently. Secrets are refused: a file is copied, committed and backed up more often than an
environment, so the API key and token secrets stay in variables (or, for token secrets, a secret
file of their own that can be locked down on its own).
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aai_mcp.config.options import Model, env_var, file_key, file_section, marker

CONFIG_FLAG = "--config"
CONFIG_ENV = "AAI_MCP_CONFIG"


class ConfigFileError(ValueError):
    """The config file cannot be used; the message names the file and the key, never a value."""


@dataclass(frozen=True)
class ConfigFile:
    """The values of one config file, by section (None: the top level)."""

    path: Path | None = None
    sections: Mapping[str | None, Mapping[str, Any]] = field(default_factory=dict)

    def values_for(self, model: Model) -> dict[str, Any]:
        """The values this model takes: keys of its section that are its own and may come from a file."""
        section = self.sections.get(file_section(model), {})
        return {
            name: value
            for name, value in section.items()
            if name in model.model_fields and file_key(name, model)
        }


def config_path(flag_value: str | None, env: Mapping[str, str]) -> Path | None:
    chosen = flag_value or _lookup(env, CONFIG_ENV)
    return Path(chosen).expanduser() if chosen else None


def _lookup(env: Mapping[str, str], name: str) -> str | None:
    lowered = {key.lower(): value for key, value in env.items()}
    return lowered.get(name.lower())


def read_config_file(path: Path | None, models: Iterable[Model]) -> ConfigFile:
    """The file's values, checked against every model any command uses (the file is shared by all)."""
    if path is None:
        return ConfigFile()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigFileError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"the config file {path} is not valid TOML: {exc}") from None
    return ConfigFile(path, _checked(path, data, list(models)))


def _checked(path: Path, data: dict[str, Any], models: list[Model]) -> dict[str | None, dict[str, Any]]:
    by_section: dict[str | None, list[Model]] = {}
    for model in models:
        by_section.setdefault(file_section(model), []).append(model)
    sections: dict[str | None, dict[str, Any]] = {None: {}}
    for key, value in data.items():
        if key in by_section:
            if not isinstance(value, dict):
                raise ConfigFileError(f"{path}: [{key}] must be a table of options")
            for name in value:
                _checked_key(path, name, by_section[key], key)
            sections[key] = dict(value)
        else:
            _checked_key(path, key, by_section.get(None, []), None)
            sections[None][key] = value
    return sections


def _checked_key(path: Path, name: str, models: list[Model], section: str | None) -> None:
    owners = [model for model in models if name in model.model_fields]
    where = f"[{section}] " if section else ""
    if owners and not any(file_key(name, model) or marker(model, name).secret for model in owners):
        raise ConfigFileError(f"{path}: {where}{name!r} is an argument of one command, give it as a flag")
    if not owners:
        known = sorted({key for model in models for key in model.model_fields if file_key(key, model)})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigFileError(f"{path}: unknown key {where}{name!r}{hint}")
    secret = next((model for model in owners if marker(model, name).secret), None)
    if secret is not None:
        hint = marker(secret, name).hint
        raise ConfigFileError(
            f"{path}: {name!r} is a secret, which is never read from the config file: "
            f"set {env_var(name, secret)} in the environment instead{f' ({hint})' if hint else ''}"
        )
