"""AssemblyAI accounts by name: keys come from environment variables or secret files, never flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from aai_mcp.config.settings import check_key_text

DEFAULT_ACCOUNT = "default"


class AccountsError(ValueError):
    """An account entry is wrong; the message names the entry, never a key."""


def load_accounts(
    entries: list[str], default_key: SecretStr | None, env: Mapping[str, str] | None = None
) -> dict[str, SecretStr]:
    """`name=env:VAR` / `name=file:/path` entries, plus `default` from ASSEMBLYAI_API_KEY when set."""
    environment = os.environ if env is None else env
    accounts: dict[str, SecretStr] = {}
    if default_key is not None:
        accounts[DEFAULT_ACCOUNT] = default_key
    for number, entry in enumerate(entries, 1):
        name, _, source = entry.partition("=")
        name = name.strip()
        if not name or not source:
            # Not echoed: a malformed entry may be a key pasted in by mistake.
            raise AccountsError(f"account entry {number} is not name=env:VAR or name=file:/path")
        if name in accounts:
            raise AccountsError(f"account {name!r} is defined twice")
        key = _read_key(name, source.strip(), environment)
        try:
            check_key_text(key)
        except ValueError as exc:
            raise AccountsError(f"account {name!r}: {exc}") from None
        accounts[name] = SecretStr(key)
    return accounts


def _read_key(name: str, source: str, env: Mapping[str, str]) -> str:
    kind, _, where = source.partition(":")
    if kind == "env":
        value = env.get(where, "").strip()
        if not value:
            raise AccountsError(f"account {name!r}: environment variable {where} is not set")
        return value
    if kind == "file":
        try:
            value = Path(where).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AccountsError(f"account {name!r}: cannot read {where}: {exc.strerror}") from None
        if not value:
            raise AccountsError(f"account {name!r}: {where} is empty")
        return value
    raise AccountsError(f"account {name!r}: the source must be env:VAR or file:/path")
