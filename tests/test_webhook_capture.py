"""POST /webhooks/assemblyai on SQLite and PostgreSQL, in process against the simulator: the secret
header (missing, wrong, repeated: 401 and nothing recorded), the body's shape and size, the answer
given while the capture is still held, a failed capture tried again until stored, a crash between the
answer and the capture recovered by the next start's sweep and by `archive sync`."""

from __future__ import annotations

import logging

import anyio
import pytest
from sqlalchemy.exc import OperationalError

from aai_mcp.state.archive_store import ArchivedTranscript
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.webhooks.background_capture import RetryPolicy, WebhookCapture
from aai_mcp.webhooks.endpoint import MAX_BODY_BYTES
from aai_mcp.webhooks.submission import WEBHOOK_PATH
from tests.support.archive_runs import fetches
from tests.support.archive_sync import PROCESSING_SECONDS, sync_of, upstream_of
from tests.support.webhook_rig import HEADER, SECRET, Rig, webhook_rig

pytestmark = pytest.mark.anyio


async def finished(rig: Rig, count: int = 1) -> list[str]:
    ids = await rig.submit(count)
    rig.clock.now += PROCESSING_SECONDS + 1
    return ids


def nothing_recorded(rig: Rig) -> bool:
    return rig.archive.pending_ids() == [] and rig.archive.count() == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {HEADER: "wrong"}, {HEADER: SECRET[:-1]}, {"X-Other": SECRET}, {HEADER.lower(): SECRET + " "}],
    ids=["missing", "wrong", "prefix", "other-header", "trailing-space"],
)
async def test_a_webhook_without_the_secret_header_is_refused_and_nothing_is_recorded(
    store: SqlStore, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with webhook_rig(store) as rig:
        [transcript_id] = await finished(rig)
        answer = await rig.post({"transcript_id": transcript_id, "status": "completed"}, headers)
        assert answer.status_code == 401
        assert nothing_recorded(rig) and fetches(rig.simulator).get(transcript_id) is None
    assert SECRET not in caplog.text and "answer=401" in caplog.text


async def test_the_secret_header_twice_is_refused(store: SqlStore) -> None:
    async with webhook_rig(store) as rig:
        [transcript_id] = await finished(rig)
        body = b'{"transcript_id": "%s", "status": "completed"}' % transcript_id.encode()
        async with rig.client() as client:
            headers = [(HEADER, SECRET), (HEADER, SECRET), ("content-type", "application/json")]
            answer = await client.post(WEBHOOK_PATH, content=body, headers=headers)
        assert answer.status_code == 401 and nothing_recorded(rig)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"transcript_id": "abc"}',
        b'{"transcript_id": "abc", "status": "processing"}',
        b'{"transcript_id": 5, "status": "completed"}',
        b'{"transcript_id": "../etc", "status": "completed"}',
        b'{"redacted_audio_url": "https://x", "status": "redacted_audio_ready"}',
    ],
)
async def test_a_body_that_is_not_a_transcript_webhook_is_400(store: SqlStore, body: bytes) -> None:
    async with webhook_rig(store) as rig:
        async with rig.client() as client:
            answer = await client.post(WEBHOOK_PATH, content=body, headers={HEADER: SECRET})
        assert answer.status_code == 400 and nothing_recorded(rig)


async def test_only_post_is_answered(store: SqlStore) -> None:
    async with webhook_rig(store) as rig, rig.client() as client:
        answer = await client.get(WEBHOOK_PATH, headers={HEADER: SECRET})
        assert answer.status_code == 405 and nothing_recorded(rig)


async def test_a_body_past_the_limit_is_413(store: SqlStore) -> None:
    async with webhook_rig(store) as rig:
        padding = "x" * MAX_BODY_BYTES
        answer = await rig.post({"transcript_id": "abc", "status": "completed", "pad": padding})
        assert answer.status_code == 413 and nothing_recorded(rig)


async def test_the_answer_comes_before_the_capture_which_then_stores_the_transcript(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with webhook_rig(store) as rig:
        [transcript_id] = await finished(rig)
        rig.upstream_gate.close_gate()
        answer = await rig.post({"transcript_id": transcript_id, "status": "completed"})
        assert answer.status_code == 202
        with anyio.fail_after(30):
            await rig.upstream_gate.someone_held.wait()  # the capture is under way, held upstream
        assert rig.archive.pending_ids() == [transcript_id] and rig.archive.count() == 0
        rig.upstream_gate.open.set()
        await rig.until_stored(1)
        stored = rig.archive.get(transcript_id)
        assert stored is not None and stored.status == "completed" and stored.text
        assert rig.archive.pending_ids() == []
        assert stored.request_config.get("webhook_auth_header_value") is None
    said = [r.getMessage() for r in caplog.records if r.name == "aai_mcp.webhooks"]
    lines = [line for line in said if "answer=" in line]
    assert lines == [f"webhook transcript={transcript_id} status=completed answer=202"]
    assert SECRET not in caplog.text and (stored.text or "")[:20] not in caplog.text


async def test_a_failed_capture_is_tried_again_until_stored(store: SqlStore) -> None:
    async with webhook_rig(store) as rig:
        [transcript_id] = await finished(rig)
        for kind in ("500", "503", "502"):
            rig.simulator.queue_fault(kind, 1, path_prefix="/v2/transcript/", method="GET")
        answer = await rig.post({"transcript_id": transcript_id, "status": "completed"})
        assert answer.status_code == 202
        await rig.until_stored(1)
        assert rig.archive.archived_ids([transcript_id]) == {transcript_id}
        assert fetches(rig.simulator)[transcript_id] >= 3 and rig.pauses.taken[:2] == [1.0, 2.0]
        assert rig.archive.pending_ids() == []


async def test_a_capture_that_keeps_failing_stays_pending_for_archive_sync(store: SqlStore) -> None:
    async with webhook_rig(store, retry=RetryPolicy(tries=3)) as rig:
        [transcript_id] = await finished(rig)
        rig.simulator.queue_fault("500", 3, path_prefix="/v2/transcript/", method="GET")
        settled = rig.capture.settled
        assert (await rig.post({"transcript_id": transcript_id, "status": "completed"})).status_code == 202
        with anyio.fail_after(30):
            await settled.wait()
        assert rig.pauses.taken == [1.0, 2.0] and rig.archive.count() == 0
        assert rig.archive.pending_ids() == [transcript_id]
        async with upstream_of(rig.seeded) as upstream:
            counts = await sync_of(upstream, rig.archive).run()
        assert counts.completed == 1 and rig.archive.archived_ids([transcript_id]) == {transcript_id}
        assert rig.archive.pending_ids() == []


async def test_a_crash_between_the_answer_and_the_capture_is_recovered_at_the_next_start(
    store: SqlStore,
) -> None:
    async with webhook_rig(store) as rig:
        [transcript_id] = await finished(rig)
        rig.upstream_gate.close_gate()
        assert (await rig.post({"transcript_id": transcript_id, "status": "completed"})).status_code == 202
        with anyio.fail_after(30):
            await rig.upstream_gate.someone_held.wait()
        # The server dies here: its capture never finishes, nothing of it runs again.
    assert rig.archive.count() == 0 and rig.archive.pending_ids() == [transcript_id]
    rig.upstream_gate.open.set()
    async with upstream_of(rig.seeded) as upstream:
        restarted = WebhookCapture(upstream, rig.archive)
        settled = restarted.settled
        async with restarted.running():
            with anyio.fail_after(30):
                await settled.wait()
    assert rig.archive.archived_ids([transcript_id]) == {transcript_id} and rig.archive.pending_ids() == []


async def test_a_crash_before_the_capture_is_recovered_by_archive_sync(store: SqlStore) -> None:
    async with webhook_rig(store) as rig:
        [transcript_id, other] = await finished(rig, 2)
        rig.upstream_gate.close_gate()
        assert (await rig.post({"transcript_id": transcript_id, "status": "completed"})).status_code == 202
        with anyio.fail_after(30):
            await rig.upstream_gate.someone_held.wait()
    rig.upstream_gate.open.set()
    async with upstream_of(rig.seeded) as upstream:
        counts = await sync_of(upstream, rig.archive).run()
    assert counts.completed == 1 and rig.archive.archived_ids([transcript_id, other]) == {transcript_id}


async def test_a_webhook_for_a_failed_job_is_recorded_and_taken_off_without_storing(store: SqlStore) -> None:
    async with webhook_rig(store) as rig:
        [transcript_id] = await rig.submit(1, audio_url="https://unreachable.invalid/a.wav")
        rig.clock.now += PROCESSING_SECONDS + 1
        settled = rig.capture.settled
        assert (await rig.post({"transcript_id": transcript_id, "status": "error"})).status_code == 202
        with anyio.fail_after(30):
            await settled.wait()
        assert rig.archive.count() == 0 and rig.archive.pending_ids() == []


async def test_a_webhook_sent_twice_while_its_capture_runs_is_captured_once(store: SqlStore) -> None:
    async with webhook_rig(store) as rig:
        [transcript_id] = await finished(rig)
        rig.upstream_gate.close_gate()
        body = {"transcript_id": transcript_id, "status": "completed"}
        assert (await rig.post(body)).status_code == 202
        with anyio.fail_after(30):
            await rig.upstream_gate.someone_held.wait()
        assert (await rig.post(body)).status_code == 202  # upstream retried: already being captured
        rig.upstream_gate.open.set()
        await rig.until_stored(1)
        assert rig.upstream_gate.held == 1 and fetches(rig.simulator)[transcript_id] == 1


async def test_a_store_that_cannot_record_the_webhook_answers_503_for_upstream_to_retry(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(transcript_id: str) -> None:
        raise OperationalError("INSERT ...", {}, Exception(f"password={SECRET}"))

    async with webhook_rig(store) as rig:
        [transcript_id] = await finished(rig)
        monkeypatch.setattr(rig.capture, "record", broken)
        answer = await rig.post({"transcript_id": transcript_id, "status": "completed"})
        assert answer.status_code == 503 and SECRET not in answer.text
        assert rig.archive.count() == 0 and fetches(rig.simulator).get(transcript_id) is None
    assert "answer=503 (store: OperationalError)" in caplog.text and SECRET not in caplog.text


async def test_a_webhook_for_a_transcript_gone_upstream_flags_its_archived_copy(store: SqlStore) -> None:
    async with webhook_rig(store) as rig:
        kept = {"id": "gone-0001", "status": "completed", "text": "kept words", "utterances": []}
        rig.archive.upsert(ArchivedTranscript.from_upstream(kept, created_at=1.0))
        settled = rig.capture.settled
        answer = await rig.post({"transcript_id": "gone-0001", "status": "completed"})
        assert answer.status_code == 202  # the simulator answers 404 for it: deleted upstream
        with anyio.fail_after(30):
            await settled.wait()
        archived = rig.archive.get("gone-0001")
        assert archived is not None and archived.upstream_deleted and archived.text == "kept words"
        assert rig.archive.pending_ids() == []
