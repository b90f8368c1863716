"""Issuing an access token, the one way every front door does it (`aai-mcp token mint`, the admin
API): mint it, record it in the store, and say where to use it. Also the schedule that prunes the
records of tokens past their expiry while `serve` runs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from aai_mcp.access.scopes import Scopes
from aai_mcp.access.tokens import Minted, mint
from aai_mcp.state.issued_tokens import IssuedTokens

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
PROXY_PATH = "/v1/assemblyai"  # the team proxy's mount (aai_mcp.proxy.PROXY_PREFIX, not imported: light CLI)


def issue(
    secret: bytes,
    records: IssuedTokens,
    *,
    name: str,
    scopes: Scopes,
    expires_at: float | None,
    account: str,
    require_header: bool,
    creator: str,
    now: float,
) -> Minted:
    """A new token, recorded before it is handed out: a token nobody could list is never issued."""
    minted = mint(
        secret,
        name=name,
        scopes=scopes,
        expires_at=expires_at,
        account=account,
        require_header=require_header,
        issued_at=now,
    )
    records.record(minted.claims, creator)
    return minted


def ready_urls(base_url: str, minted: Minted) -> dict[str, str | None]:
    """Where a client uses the token: the MCP URL with it in the path, the MCP URL for a bearer, and
    the team proxy's base URL when the token may use the proxy."""
    base = base_url.rstrip("/")
    return {
        "mcp_url_with_token": f"{base}/mcp/t/{minted.token}",
        "mcp_url": f"{base}/mcp",
        "proxy_base_url": f"{base}{PROXY_PATH}" if minted.claims.scopes.proxy else None,
    }


async def prune_once(records: IssuedTokens) -> int:
    """Delete expired token records and the revocations of long-expired tokens in a worker thread; how
    many records (0, and a log line, when the store cannot be written)."""
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.state.store import failure_reason

    try:
        pruned = await anyio.to_thread.run_sync(records.prune)
        revocations = await anyio.to_thread.run_sync(records.prune_revocations)
    except SQLAlchemyError as exc:
        logger.warning("could not prune expired token records: %s", failure_reason(exc))
        return 0
    if pruned or revocations:
        logger.info(
            "pruned %d expired token record(s), %d revocation(s) of expired tokens", pruned, revocations
        )
    return pruned


@asynccontextmanager
async def pruning(records: IssuedTokens, every_seconds: float = PRUNE_EVERY_SECONDS) -> AsyncIterator[None]:
    """Prune expired records at once and then every `every_seconds` while the block runs (a companion
    of `serve`); every instance may do it, the DELETE is the same whoever runs it."""

    async def loop() -> None:
        while True:
            await prune_once(records)
            await anyio.sleep(every_seconds)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(loop)
        try:
            yield
        finally:
            tasks.cancel_scope.cancel()
