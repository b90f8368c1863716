"""Every capture path enqueues through the archive's upsert: a backfill, a sync and webhook captures
against the simulator, into the archive as the commands and serve open it (archive_store_of with
destinations configured), leave one event per newly archived transcript for each destination, and
nothing for one stored again.
A wrong destination setting stops a command before any work, naming the entry, never its secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from aai_mcp.archive.backfill import BackfillPlan
from aai_mcp.cli.main import main
from aai_mcp.config.settings import Settings
from aai_mcp.delivery.deliveries import archive_store_of
from aai_mcp.state.delivery_outbox import DeliveryOutbox
from aai_mcp.state.store_sql import SqlStore
from tests.support.archive_runs import available, backfill
from tests.support.archive_sync import PROCESSING_SECONDS, clocked_simulator, submit, sync_of, upstream_of
from tests.support.webhook_rig import webhook_rig

SECRET = "whsec-capture-test-secret"


def _settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CRM_SECRET", SECRET)
    monkeypatch.setenv("CHAT_SECRET", SECRET + "-chat")
    destinations = (
        "crm=https://crm.invalid/hooks#env:CRM_SECRET; chat=https://chat.invalid/t/x#env:CHAT_SECRET"
    )
    return Settings(delivery_destinations=SecretStr(destinations))


@pytest.mark.anyio
async def test_backfill_and_sync_enqueue_each_new_transcript_once_per_destination(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = archive_store_of(store.engine, _settings(monkeypatch))
    outbox = DeliveryOutbox(store.engine)
    seeded, clock = clocked_simulator(count=30)
    await backfill(seeded, archive, BackfillPlan(page_size=10))
    stored = len(available(seeded.simulator))
    assert outbox.counts()["pending"] == 2 * stored
    await backfill(seeded, archive, BackfillPlan(page_size=10, refresh=True))  # stored again: not new
    assert outbox.counts()["pending"] == 2 * stored
    await submit(seeded, 5)
    clock.now += PROCESSING_SECONDS + 1
    async with upstream_of(seeded) as upstream:
        await sync_of(upstream, archive).run()
    assert outbox.counts()["pending"] == 2 * (stored + 5)
    subjects = {c.subject_id for c in outbox.claim("w", ["crm"], 1000, 60)}
    assert subjects == set(archive.all_ids())


@pytest.mark.anyio
async def test_webhook_captures_enqueue_each_new_transcript(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = archive_store_of(store.engine, _settings(monkeypatch))
    outbox = DeliveryOutbox(store.engine)
    async with webhook_rig(store, archive=archive) as rig:
        ids = await rig.submit(3)
        rig.clock.now += PROCESSING_SECONDS + 1
        for transcript_id in [*ids, ids[0]]:  # the first announced twice: stored again, not enqueued again
            assert (
                await rig.post({"transcript_id": transcript_id, "status": "completed"})
            ).status_code == 202
        await rig.until_stored(3)
    assert outbox.counts()["pending"] == 2 * 3
    assert {c.subject_id for c in outbox.claim("w", ["crm"], 1000, 60)} == set(ids)


@pytest.mark.parametrize("command", [["archive", "backfill"], ["archive", "sync"], ["archive", "deliver"]])
def test_a_wrong_destination_stops_the_command(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ASSEMBLYAI_API_KEY", raising=False)
    monkeypatch.delenv("AAI_MCP_DATABASE_URL", raising=False)
    monkeypatch.setenv("AAI_MCP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SHORT_SECRET", "too-short")
    monkeypatch.setenv(
        "AAI_MCP_DELIVERY_DESTINATIONS", "crm=https://u:pw-in-url@crm.invalid/h#env:SHORT_SECRET"
    )
    assert main(command) == 2
    said = capsys.readouterr().err
    assert "AAI_MCP_DELIVERY_DESTINATIONS" in said and "destination 'crm'" in said and "16 characters" in said
    assert "pw-in-url" not in said and "too-short" not in said and "crm.invalid" not in said


def test_deliver_without_destinations_says_how_to_set_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AAI_MCP_DELIVERY_DESTINATIONS", raising=False)
    monkeypatch.setenv("AAI_MCP_DATA_DIR", str(tmp_path))
    assert main(["archive", "deliver", "--drain"]) == 2
    assert "no destination is configured: set AAI_MCP_DELIVERY_DESTINATIONS" in capsys.readouterr().err
