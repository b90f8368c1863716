"""The delivery worker beside other work (`serve`, `archive sync --every`), or alone (`archive deliver`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import sqlalchemy as sa

from aai_mcp.config.settings import Settings
from aai_mcp.delivery.deliveries import configured_destinations, retry_policy
from aai_mcp.delivery.worker import DeliveryWorker
from aai_mcp.state.delivery_outbox import DeliveryOutbox


def delivery_client() -> httpx.AsyncClient:
    # Redirects are not followed: a destination that moved is a configuration to fix (its answer makes
    # a dead letter), and a redirect must not carry a signed body somewhere else.
    return httpx.AsyncClient(follow_redirects=False, trust_env=False)


def worker_of(engine: sa.Engine, settings: Settings, client: httpx.AsyncClient) -> DeliveryWorker:
    return DeliveryWorker(
        DeliveryOutbox(engine),
        configured_destinations(settings),
        client,
        retry_policy(settings),
        timeout_seconds=settings.delivery_timeout_seconds,
    )


@asynccontextmanager
async def delivering(engine: sa.Engine, settings: Settings) -> AsyncIterator[None]:
    """Run the delivery worker while the block runs (nothing when no destination is configured)."""
    if not configured_destinations(settings):
        yield
        return
    async with delivery_client() as client, anyio.create_task_group() as group:
        group.start_soon(worker_of(engine, settings, client).run)
        try:
            yield
        finally:
            group.cancel_scope.cancel()
