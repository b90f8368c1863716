"""Whose transcripts a backfill or sync copies: one source per upstream key. AssemblyAI lists only the
transcripts of the account a key belongs to, so with several accounts configured (--accounts) each key
is listed and fetched with itself, in turn, and its transcripts are archived under its account's name
(the `account` column readers are limited to). A pooled account's keys are each listed: a transcript
two keys both list (keys of one AssemblyAI account) is stored once, by id.

The key pool's choice (least loaded, failover) does not apply here: a list page asked of another key
would be another account's list. Each source has its own checkpoint (and, for sync, pending list),
so a run stopped in one account's pages resumes there.
"""

from __future__ import annotations

from dataclasses import dataclass

from aai_mcp.access.accounts import DEFAULT_ACCOUNT, PoolKey, load_key_pools
from aai_mcp.config.settings import Settings
from aai_mcp.upstream.client import Upstream


@dataclass(frozen=True)
class Source:
    """One key to list with and the account its transcripts belong to."""

    account: str = DEFAULT_ACCOUNT
    key: PoolKey | None = None
    """None: the server's own key (ASSEMBLYAI_API_KEY), as before accounts existed."""

    @property
    def name(self) -> str | None:
        """What checkpoints and pending rows are kept under (None: the server's own key's)."""
        return None if self.key is None else self.key.name

    def shown(self) -> str:
        return f"account {self.account}" + ("" if self.key is None else f" (key {self.key.name})")

    def upstream(self, upstream: Upstream) -> Upstream:
        return upstream if self.key is None else upstream.with_key(self.key.value.get_secret_value())


def sources_of(settings: Settings) -> list[Source]:
    """The server's own key alone without --accounts; else every configured key, by account."""
    if not settings.accounts:
        return [Source()]
    pools = load_key_pools(settings.accounts, settings.api_key)
    return [_source(account, key) for account, keys in pools.items() for key in keys]


def _source(account: str, key: PoolKey) -> Source:
    own = account == DEFAULT_ACCOUNT and key.name == f"{DEFAULT_ACCOUNT}/ASSEMBLYAI_API_KEY"
    return Source() if own else Source(account, key)
