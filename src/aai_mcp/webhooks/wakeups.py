"""Waking waiters when a webhook says their transcript finished: the instance that received the
webhook publishes on the shared channel TRANSCRIPT_NEWS (Redis pub/sub across instances, in-process
otherwise), and every instance's poller polls that transcript at once instead of at its next turn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskStatus

from aai_mcp.mcp_server.handlers.polling import TranscriptPoller
from aai_mcp.state.shared import SharedState
from aai_mcp.webhooks.submission import TRANSCRIPT_NEWS


@asynccontextmanager
async def waking_waiters(shared: SharedState, poller: TranscriptPoller) -> AsyncIterator[None]:
    """Hears the channel for as long as the context runs (subscribed before it is entered)."""
    async with anyio.create_task_group() as group:
        await group.start(_hear, shared, poller)
        try:
            yield
        finally:
            group.cancel_scope.cancel()


async def _hear(
    shared: SharedState, poller: TranscriptPoller, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    async with shared.subscribe(TRANSCRIPT_NEWS) as messages:
        task_status.started()
        async for message in messages:
            transcript_id = message.get("transcript_id")
            if isinstance(transcript_id, str):
                poller.wake(transcript_id)
