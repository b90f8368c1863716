"""Issue 13 leftovers through MCP, on SQLite and PostgreSQL: audio uploaded through aai-mcp is hashed
on the way and the transcripts made from it are archived with that hash (the duplicates report groups
the same audio sent twice); the upstream_deleted flag is set by delete_transcript, by a read upstream
answers 404, and by a backfill or sync that finds a transcript deleted or gone."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from aai_mcp.access.principal import Principal
from aai_mcp.access.scopes import Scopes
from aai_mcp.archive.backfill import BackfillPlan
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
from aai_mcp.state.store_sql import SqlStore
from tests.support import make_settings, wav_bytes
from tests.support.archive_runs import HISTORY_KEY, Seeded, backfill
from tests.support.archive_sync import (
    PROCESSING_SECONDS,
    SimClock,
    clocked_simulator,
    submit,
    sync_of,
    upstream_of,
)

pytestmark = pytest.mark.anyio
OWNER = Principal(id="owner-token", scopes=Scopes())


@dataclass
class Rig:
    seeded: Seeded
    clock: SimClock
    gateway: Gateway
    archive: ArchiveStore

    async def call(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await self.gateway.runner.call(tool, args, principal=OWNER)
        assert not result.is_error, result.content
        out: dict[str, Any] = result.structured_content
        return out

    async def transcribe(self, upload_url: str) -> str:
        made = await self.call("create_transcript", {"audio_url": upload_url})
        return str(made["id"])


@pytest.fixture
async def rig(store: SqlStore, tmp_path: Path) -> AsyncIterator[Rig]:
    seeded, clock = clocked_simulator(count=5, days=30)
    settings = make_settings(api_key=SecretStr(HISTORY_KEY), upload_roots=[tmp_path])
    gateway = build_gateway(settings, transport=httpx.ASGITransport(app=seeded.app))
    archive = ArchiveStore(store.engine)
    gateway.use_store(store, archive)
    try:
        yield Rig(seeded, clock, gateway, archive)
    finally:
        await gateway.aclose()


async def test_the_same_audio_sent_twice_is_archived_with_one_hash_and_reported(
    rig: Rig, tmp_path: Path
) -> None:
    audio, other = wav_bytes(0.5), wav_bytes(0.7)
    (tmp_path / "call.wav").write_bytes(audio)
    by_path = await rig.call("upload_file", {"path": str(tmp_path / "call.wav")})
    by_data = await rig.call("upload_file", {"data_base64": base64.b64encode(audio).decode()})
    different = await rig.call("upload_file", {"data_base64": base64.b64encode(other).decode()})
    expected = f"sha256:{hashlib.sha256(audio).hexdigest()}"
    assert rig.archive.upload_hash(by_path["upload_url"]) == expected
    assert rig.archive.upload_hash(by_data["upload_url"]) == expected
    assert rig.archive.upload_hash(different["upload_url"]) == f"sha256:{hashlib.sha256(other).hexdigest()}"

    first = await rig.transcribe(by_path["upload_url"])
    second = await rig.transcribe(by_data["upload_url"])
    third = await rig.transcribe(different["upload_url"])
    rig.clock.now += PROCESSING_SECONDS + 1
    progress, _pacer = await backfill(rig.seeded, rig.archive, BackfillPlan())

    assert progress.duplicates == 1
    [group] = rig.archive.duplicates()
    assert group.audio_hash == expected and set(group.transcript_ids) == {first, second}
    kept = rig.archive.get(third)
    assert kept is not None and kept.audio_hash != expected and kept.audio_hash is not None


async def test_delete_transcript_flags_the_archived_copy_which_stays_readable(rig: Rig) -> None:
    await backfill(rig.seeded, rig.archive, BackfillPlan())
    transcript_id = rig.archive.all_ids()[0]
    await rig.call("delete_transcript", {"transcript_id": transcript_id})
    kept = rig.archive.get(transcript_id)
    assert kept is not None and kept.upstream_deleted is True and kept.text != "Deleted by user."
    read = await rig.call("get_transcript", {"transcript_id": transcript_id})
    assert read["archive"]["upstream_deleted"] is True and read["text"] == kept.text


async def test_a_read_upstream_answers_404_flags_the_archived_copy(rig: Rig) -> None:
    # Archived but not served from the archive (it ended in error): the read goes upstream.
    gone = ArchivedTranscript(transcript_id="gone-id", status="error", request_config={})
    rig.archive.upsert(gone)
    result = await rig.gateway.runner.call("get_transcript", {"transcript_id": "gone-id"}, principal=OWNER)
    assert result.is_error
    kept = rig.archive.get("gone-id")
    assert kept is not None and kept.upstream_deleted is True


async def test_a_backfill_again_flags_what_the_list_shows_deleted_and_keeps_the_content(rig: Rig) -> None:
    await backfill(rig.seeded, rig.archive, BackfillPlan())
    transcript_id = rig.archive.all_ids()[0]
    before = rig.archive.get(transcript_id)
    async with upstream_of(rig.seeded) as upstream:  # deleted behind the gateway's back
        await upstream.request("api", "DELETE", f"/v2/transcript/{transcript_id}")
    progress, _pacer = await backfill(rig.seeded, rig.archive, BackfillPlan(refresh=True))
    after = rig.archive.get(transcript_id)
    assert before is not None and after is not None and progress.gone == 1
    assert after.upstream_deleted is True and after.text == before.text


async def test_a_sync_flags_new_transcripts_listed_deleted_and_archived_ones_past_retention(rig: Rig) -> None:
    await backfill(rig.seeded, rig.archive, BackfillPlan())
    old = ArchivedTranscript(transcript_id="old", status="completed", request_config={}, created_at=1.0)
    rig.archive.upsert(old)  # archived long ago: past AssemblyAI's retention
    async with upstream_of(rig.seeded) as upstream:
        sync = sync_of(upstream, rig.archive)
        first = await sync.run()  # from the backfill's newest: nothing new yet
        kept, deleted = await submit(rig.seeded, 2)
        rig.clock.now += PROCESSING_SECONDS + 1
        await upstream.request("api", "DELETE", f"/v2/transcript/{deleted}")
        second = await sync.run()
    flagged = rig.archive.get("old")
    assert flagged is not None and flagged.upstream_deleted is True
    assert (first.expired, second.expired) == (1, 0)
    assert (second.new, second.gone) == (1, 1)
    assert rig.archive.archived_ids([kept, deleted]) == {kept}  # a scrubbed copy is never stored
