"""`Option`: how a configuration field leaves the naming defaults (see `config.options`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    """How a field leaves the defaults. `flag=None`: no flag (secrets never come from the command line:
    shell history, process lists). `env=None`: no environment variable. `file=False`: the config file
    may not set it. `secret`: neither a flag nor the config file; `hint` says where else it may come from.
    """

    flag: str | None = ""
    env: str | None = ""
    file: bool = True
    positional: bool = False
    secret: bool = False
    hint: str = ""


# Arguments of one invocation (what to mint, which client to configure): flags only, not configuration.
ARGUMENT = Option(env=None, file=False)
POSITIONAL = Option(env=None, file=False, positional=True)
