"""Stored extraction results, on SQLite and PostgreSQL: a second call with the same kit over the same
text reuses the stored result (no LLM request); a changed transcript text, a changed kit or refresh
runs it again and replaces the row."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from aai_mcp.access.principal import Principal
from aai_mcp.access.scopes import Scopes
from aai_mcp.extraction.kits import available_kits
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.render import transcript_json
from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
from aai_mcp.state.extraction_store import ExtractionStore
from aai_mcp.state.store_sql import SqlStore
from tests.support import CANARY_KEY, make_settings

pytestmark = pytest.mark.anyio

CHAT = "/v1/chat/completions"
KIT = """\
name: churn-check
description: Is the customer about to leave?
instructions: Judge only from the transcript; quote it.
fields:
  churn_risk:
    type: boolean
    description: True when the customer talks about leaving or being charged twice.
"""
OWNER = Principal(id="owner-token", scopes=Scopes())


class Counting(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.chats = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.chats += request.url.path == CHAT
        return await self.inner.handle_async_request(request)


@dataclass
class Rig:
    gateway: Gateway
    transport: Counting
    archive: ArchiveStore
    results: ExtractionStore
    kits: Path
    transcript_id: str

    async def extract(self, kit: str = "churn-check", principal: Principal = OWNER, **more: Any) -> Any:
        args = {"transcript_ids": [self.transcript_id], "kit": kit, **more}
        return await self.gateway.runner.call("extract_from_transcript", args, principal=principal)

    def archive_with_text(self, text: str) -> None:
        kept = self.archive.get(self.transcript_id)
        assert kept is not None
        upstream = {**kept.request_config, "id": kept.transcript_id, "status": "completed"}
        self.archive.upsert(ArchivedTranscript.from_upstream({**upstream, "text": text, "words": kept.words}))


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return dict(result.structured_content)


@pytest.fixture
async def rig(store: SqlStore, tmp_path: Path) -> AsyncIterator[Rig]:
    kits = tmp_path / "kits"
    kits.mkdir()
    (kits / "churn.yaml").write_text(KIT, encoding="utf-8")
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0))
    simulator = app.state.simulator
    transport = Counting(httpx.ASGITransport(app=app))
    gateway = build_gateway(make_settings(extraction_kits_dir=kits), transport=transport)
    archive = ArchiveStore(store.engine)
    gateway.use_store(store, archive)
    created = await gateway.runner.call(
        "create_transcript",
        {"audio_url": "https://example.com/a.mp3", "speaker_labels": True},
        principal=OWNER,
    )
    transcript_id = str(created.structured_content["id"])
    record = simulator.transcripts.get(transcript_id)
    archive.upsert(ArchivedTranscript.from_upstream(transcript_json(record, "completed")))
    try:
        yield Rig(gateway, transport, archive, ExtractionStore(store.engine), kits, transcript_id)
    finally:
        available_kits.cache_clear()
        await gateway.aclose()


async def test_the_same_kit_over_the_same_text_is_reused_without_asking_again(rig: Rig) -> None:
    first = structured(await rig.extract())
    second = structured(await rig.extract())
    assert rig.transport.chats == 1
    assert first["results"][0]["reused"] is False and second["results"][0]["reused"] is True
    assert second["results"][0]["fields"] == first["results"][0]["fields"]
    [row] = rig.results.for_kit("churn-check")
    assert (row.transcript_id, row.account, row.verified_quotes) == (rig.transcript_id, "default", 1)


async def test_a_changed_transcript_text_runs_again_and_replaces_the_row(rig: Rig) -> None:
    await rig.extract()
    before = rig.results.get("churn-check", rig.transcript_id, "default")
    rig.archive_with_text("I want to cancel my plan today.")
    result = structured(await rig.extract())
    assert rig.transport.chats == 2 and result["results"][0]["reused"] is False
    after = rig.results.get("churn-check", rig.transcript_id, "default")
    assert before is not None and after is not None
    assert after.text_digest != before.text_digest and after.kit_digest == before.kit_digest
    # The archive's copy was read first (its text, not upstream's, made the new result).
    assert after.text_digest == hashlib.sha256(b"I want to cancel my plan today.").hexdigest()
    assert rig.results.count() == 1


async def test_a_changed_kit_runs_again(rig: Rig) -> None:
    await rig.extract()
    (rig.kits / "churn.yaml").write_text(KIT.replace("quote it.", "quote it exactly."), encoding="utf-8")
    available_kits.cache_clear()  # kits are read once per process: as after a restart
    result = structured(await rig.extract())
    assert rig.transport.chats == 2 and result["results"][0]["reused"] is False
    assert structured(await rig.extract())["results"][0]["reused"] is True
    assert rig.transport.chats == 2


async def test_refresh_runs_again_even_when_current(rig: Rig) -> None:
    await rig.extract()
    result = structured(await rig.extract(refresh=True))
    assert rig.transport.chats == 2 and result["results"][0]["reused"] is False


async def test_each_kit_has_its_own_result(rig: Rig) -> None:
    await rig.extract()
    await rig.extract("support-call-qa")
    assert rig.transport.chats == 2
    assert [row.kit for row in rig.results.for_kit("support-call-qa")] == ["support-call-qa"]
    assert rig.results.count() == 2 and rig.results.count("churn-check") == 1
