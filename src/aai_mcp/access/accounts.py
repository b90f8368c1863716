"""AssemblyAI accounts by name: keys come from environment variables or secret files, never flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from aai_mcp.config.settings import check_key_text

DEFAULT_ACCOUNT = "default"
MAX_WEIGHT = 1000


@dataclass(frozen=True)
class PoolKey:
    """One upstream key of an account's pool: its name (`account/VAR` or `account/file name`) is what
    logs, metrics and the CLI show; the value never leaves the process."""

    name: str
    account: str
    value: SecretStr = field(repr=False)
    weight: int = 1


class AccountsError(ValueError):
    """An account entry is wrong; the message names the entry, never a key."""


def load_accounts(
    entries: list[str], default_key: SecretStr | None, env: Mapping[str, str] | None = None
) -> dict[str, SecretStr]:
    """Each account's first key (what a principal of the account is given; the pool picks among all)."""
    return {name: pool[0].value for name, pool in load_key_pools(entries, default_key, env).items()}


def load_key_pools(
    entries: list[str], default_key: SecretStr | None, env: Mapping[str, str] | None = None
) -> dict[str, list[PoolKey]]:
    """`name=env:VAR` / `name=file:/path` entries, optionally weighted (`name=env:VAR*3`); an account
    named in several entries pools their keys. `default` starts with ASSEMBLYAI_API_KEY when set."""
    environment = os.environ if env is None else env
    pools: dict[str, list[PoolKey]] = {}
    if default_key is not None:
        pools[DEFAULT_ACCOUNT] = [
            PoolKey(f"{DEFAULT_ACCOUNT}/ASSEMBLYAI_API_KEY", DEFAULT_ACCOUNT, default_key)
        ]
    for number, entry in enumerate(entries, 1):
        key = _pool_key(number, entry, environment)
        pool = pools.setdefault(key.account, [])
        if any(other.name == key.name for other in pool):
            raise AccountsError(f"account {key.account!r} lists key {key.name} twice")
        pool.append(key)
    return pools


def _pool_key(number: int, entry: str, env: Mapping[str, str]) -> PoolKey:
    name, _, source = entry.partition("=")
    name = name.strip()
    if not name or not source:
        # Not echoed: a malformed entry may be a key pasted in by mistake.
        raise AccountsError(f"account entry {number} is not name=env:VAR or name=file:/path")
    source, weight = _weight(name, source.strip())
    key = _read_key(name, source, env)
    try:
        check_key_text(key)
    except ValueError as exc:
        raise AccountsError(f"account {name!r}: {exc}") from None
    where = source.partition(":")[2]
    return PoolKey(f"{name}/{Path(where).name or where}", name, SecretStr(key), weight)


def _weight(name: str, source: str) -> tuple[str, int]:
    base, star, weight = source.rpartition("*")
    if not star:
        return source, 1
    if not weight.isdigit() or not 1 <= int(weight) <= MAX_WEIGHT:
        raise AccountsError(f"account {name!r}: a weight is a whole number from 1 to {MAX_WEIGHT}")
    return base, int(weight)


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
