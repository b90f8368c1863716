"""`archive extract` against the in-process simulator: an archive seeded from the simulator's history,
and a transport in front of its LLM Gateway that can fail, rate-limit or spoil chosen answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from aai_mcp.archive.extract_run import ArchiveExtraction, ExtractCounts
from aai_mcp.archive.pacing import Pacer
from aai_mcp.extraction.kits import available_kits
from aai_mcp.simulator.render import transcript_json
from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
from aai_mcp.state.extraction_store import ExtractionStore
from aai_mcp.upstream.client import Upstream
from aai_mcp.upstream.hosts import SIMULATOR_BASE_URL
from tests.support import make_settings
from tests.support.archive_runs import HISTORY_KEY, FakeTime, Seeded, seeded_simulator

CHAT = "/v1/chat/completions"


def seeded_archive(archive: ArchiveStore, count: int, seed: int = 3) -> Seeded:
    """`count` completed transcripts of a seeded simulator's history, archived as a backfill would."""
    seeded = seeded_simulator(count=count, days=30, seed=seed)
    simulator = seeded.simulator
    for record in simulator.transcripts.newest_first():
        if simulator.status_of(record) == "completed":
            answer = transcript_json(record, "completed")
            archive.upsert(
                ArchivedTranscript.from_upstream(answer, created_at=record.created_wall.timestamp())
            )
    return seeded


@dataclass
class GatewayFront(httpx.AsyncBaseTransport):
    """The simulator; chat number n (from 1) answers `overrides[n]` instead when set: a status (with
    Retry-After for 429), or a callable that rewrites the structured answer."""

    inner: httpx.AsyncBaseTransport
    overrides: dict[int, int | Callable[[dict[str, Any]], Any]] = field(default_factory=dict)
    fail_from: int | None = None
    """Every chat from this number on answers 500 (upstream down)."""
    chats: int = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != CHAT:
            return await self.inner.handle_async_request(request)
        self.chats += 1
        override = self.overrides.get(self.chats)
        if self.fail_from is not None and self.chats >= self.fail_from:
            return httpx.Response(500, json={"error": "Internal Server Error"})
        if isinstance(override, int):
            return httpx.Response(override, headers={"Retry-After": "3"}, json={"error": "Too Many Requests"})
        response = await self.inner.handle_async_request(request)
        if override is None:
            return response
        completion = json.loads(await response.aread())
        answer = json.loads(completion["choices"][0]["message"]["content"])
        completion["choices"][0]["message"]["content"] = json.dumps(override(answer))
        return httpx.Response(200, json=completion)


async def extract_archive(
    seeded: Seeded,
    archive: ArchiveStore,
    kit: str,
    front: GatewayFront | None = None,
    time: FakeTime | None = None,
    concurrency: int = 1,
) -> tuple[ExtractCounts, ArchiveExtraction]:
    """One `archive extract` run; the run object is returned even when it stops (see `.counts`)."""
    time = time or FakeTime()
    front = front or GatewayFront(httpx.ASGITransport(app=seeded.app))
    front.inner = httpx.ASGITransport(app=seeded.app)
    settings = make_settings(
        api_key=SecretStr(HISTORY_KEY),
        api_base_url=SIMULATOR_BASE_URL,
        llm_gateway_base_url=SIMULATOR_BASE_URL,
    )
    pacer = Pacer(1000.0, sleep=time.sleep, clock=time.clock)
    async with Upstream(settings, transport=front) as upstream:
        run = ArchiveExtraction(
            upstream,
            archive,
            ExtractionStore(archive.engine),
            available_kits()[kit],
            settings.llm_default_model,
            pacer,
            settings.ask_max_context_chars,
            concurrency=concurrency,
        )
        return await run.run(), run
