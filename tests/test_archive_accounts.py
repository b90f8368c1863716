"""Backfill and sync with several accounts configured (--accounts), on SQLite and PostgreSQL: each
configured key's list is paged with that key (AssemblyAI lists only its own account's transcripts),
and its transcripts are archived under the key's account; a pooled account's keys are each listed;
each key has its own checkpoint and pending list."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from aai_mcp.access.accounts import PoolKey
from aai_mcp.archive.backfill import Backfill, BackfillPlan
from aai_mcp.archive.pacing import Pacer
from aai_mcp.archive.sources import Source, sources_of
from aai_mcp.archive.sync import Sync, SyncPlan
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.state.store_leases import StoreLeases
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.upstream.client import Upstream
from aai_mcp.upstream.hosts import SIMULATOR_BASE_URL
from tests.support import make_settings
from tests.support.archive_runs import FakeTime, Seeded, available
from tests.support.archive_sync import PROCESSING_SECONDS, SimClock

pytestmark = pytest.mark.anyio
OWN, KEY_A, KEY_B1, KEY_B2 = (f"archive-{name}-key-0123456789abcdef" for name in ("own", "a", "b1", "b2"))
ENV = {"ARCHIVE_KEY_A": KEY_A, "ARCHIVE_KEY_B1": KEY_B1, "ARCHIVE_KEY_B2": KEY_B2}
ACCOUNTS = ["team-a=env:ARCHIVE_KEY_A", "team-b=env:ARCHIVE_KEY_B1", "team-b=env:ARCHIVE_KEY_B2"]


def four_accounts() -> tuple[Seeded, SimClock]:
    clock = SimClock()
    config = SimulatorConfig(
        api_key=OWN,
        api_keys=(KEY_A, KEY_B1, KEY_B2),
        history_count=20,
        history_days=30,
        clock=clock,
        processing_delay_seconds=PROCESSING_SECONDS,
    )
    seeded = Seeded(build_simulator_app(config))
    for number, key in enumerate((KEY_A, KEY_B1, KEY_B2), 1):
        seeded.simulator.seed_history(10 * number, 30, seed=number, key=key)
    return seeded, clock


def ids_of(seeded: Seeded, key: str) -> set[str]:
    simulator = seeded.simulator
    records = simulator.account(key).transcripts.newest_first()
    return {
        r.transcript_id for r in records if simulator.status_of(r) == "completed" and not simulator.expired(r)
    }


def accounts_of(archive: ArchiveStore) -> dict[str, str]:
    found = {}
    for transcript_id in archive.all_ids():
        kept = archive.get(transcript_id)
        assert kept is not None
        found[transcript_id] = kept.account
    return found


async def test_backfill_lists_each_key_and_archives_under_its_account(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    seeded, _clock = four_accounts()
    settings = make_settings(api_key=SecretStr(OWN), api_base_url=SIMULATOR_BASE_URL, accounts=ACCOUNTS)
    sources = sources_of(settings)
    assert [(s.account, s.name) for s in sources] == [
        ("default", None),
        ("team-a", "team-a/ARCHIVE_KEY_A"),
        ("team-b", "team-b/ARCHIVE_KEY_B1"),
        ("team-b", "team-b/ARCHIVE_KEY_B2"),
    ]
    archive = ArchiveStore(store.engine)
    time = FakeTime()
    async with Upstream(settings, transport=httpx.ASGITransport(app=seeded.app)) as upstream:
        for source in sources:
            pacer = Pacer(1000.0, sleep=time.sleep, clock=time.clock)
            await Backfill(source.upstream(upstream), archive, BackfillPlan(), pacer, source=source).run()
    expected = {i: "default" for i in ids_of(seeded, OWN)}
    expected |= {i: "team-a" for i in ids_of(seeded, KEY_A)}
    expected |= {i: "team-b" for i in ids_of(seeded, KEY_B1) | ids_of(seeded, KEY_B2)}
    assert accounts_of(archive) == expected and len(expected) > 50
    assert available(seeded.simulator) == ids_of(seeded, OWN)  # the own key's list is the first account's
    # Each key resumes its own run: four checkpoints, all finished.
    runs = [Backfill(upstream, archive, BackfillPlan(), pacer, source=s).run_key() for s in sources]
    assert len(set(runs)) == 4 and runs[0] == BackfillPlan().run_key()
    assert all((found := archive.checkpoint(key)) is not None and found.finished_at for key in runs)


async def test_sync_stores_each_keys_new_transcripts_under_its_account(store: SqlStore) -> None:
    seeded, clock = four_accounts()
    archive = ArchiveStore(store.engine)
    sources = [
        Source(),
        *(
            Source(account, _pool_key(account, key))
            for account, key in (("team-a", KEY_A), ("team-b", KEY_B1))
        ),
    ]
    settings = make_settings(api_key=SecretStr(OWN), api_base_url=SIMULATOR_BASE_URL)
    time = FakeTime()
    async with Upstream(settings, transport=httpx.ASGITransport(app=seeded.app)) as upstream:
        syncs = [
            Sync(
                s.upstream(upstream),
                archive,
                StoreLeases(store.engine),
                SyncPlan(),
                Pacer(1000.0, sleep=time.sleep, clock=time.clock),
                source=s,
            )
            for s in sources
        ]
        for sync in syncs:
            await sync.run()  # first round: from now
        made = {key: await _submit(upstream.with_key(key), 3) for key in (OWN, KEY_A, KEY_B1)}
        first = [await sync.run() for sync in syncs]  # all still queued: pending, per key
        assert [c.pending for c in first] == [3, 3, 3]
        clock.now += PROCESSING_SECONDS + 1
        second = [await sync.run() for sync in syncs]
    assert [c.completed for c in second] == [3, 3, 3]
    kept = accounts_of(archive)
    assert {kept[i] for i in made[OWN]} == {"default"}
    assert {kept[i] for i in made[KEY_A]} == {"team-a"} and {kept[i] for i in made[KEY_B1]} == {"team-b"}


def _pool_key(account: str, key: str) -> PoolKey:
    return PoolKey(f"{account}/{key[:12]}", account, SecretStr(key))


async def _submit(upstream: Upstream, count: int) -> list[str]:
    ids = []
    for n in range(count):
        body = {"audio_url": f"https://calls.example.com/pool/{n}.wav", "speech_models": ["universal"]}
        answer = await upstream.request("api", "POST", "/v2/transcript", json_body=body)
        ids.append(answer.json()["id"])
    return ids
