"""`notifications/tasks/status` (2025-11-25 tasks): the session that created a task hears, on its own
stream, the status the task ended in, as the @modelcontextprotocol/ext-tasks client (npm) receives it:
`completed` after a ten-minute simulated transcription, `cancelled` after its own cancel. A client
that left hears nothing and polls instead (the notification is optional in the spec)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.test_tasks_ext_client import TIME_SCALE, Rig, audio_url, ext_tasks, rig_with, start

pytestmark = pytest.mark.slow

NOTIFIED_WITHIN_MS = 30_000  # generous: the notification follows the task's end on a loaded machine


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with rig_with(tmp_path_factory.mktemp("data"), TIME_SCALE) as made:
        yield made


@pytest.fixture(scope="module")
def slow_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Real-time ten-minute jobs: still running when the client cancels them."""
    with rig_with(tmp_path_factory.mktemp("data"), 1.0) as made:
        yield made


def test_the_creating_session_is_told_the_task_completed(rig: Rig) -> None:
    step = {"do": "run", "tool": "transcribe", "arguments": {"audio_url": audio_url(rig)}}
    (run,) = ext_tasks(rig.alice, {**step, "notifiedWithinMs": NOTIFIED_WITHIN_MS})
    assert run["outcome"]["status"] == "completed", run
    statuses = [(note["method"], note["status"]) for note in run["notified"]]
    assert ("notifications/tasks/status", "completed") in statuses, run["notified"]
    (done,) = [note for note in run["notified"] if note["status"] == "completed"]
    assert done["taskId"] == run["taskId"] and done["statusMessage"] == "Completed."


def test_the_creating_session_is_told_its_cancel_took_effect(slow_rig: Rig) -> None:
    started, cancelled = ext_tasks(
        slow_rig.alice,
        start(audio_url=audio_url(slow_rig)),
        {"do": "cancel", "notifiedWithinMs": NOTIFIED_WITHIN_MS},  # the task the step before made
    )
    assert cancelled["taskId"] == started["taskId"] and cancelled["status"] == "cancelled", cancelled
    statuses = [note["status"] for note in cancelled["notified"]]
    assert statuses == ["cancelled"], cancelled
    assert "wait_for_transcript with transcript_id=" in cancelled["notified"][0]["statusMessage"]
