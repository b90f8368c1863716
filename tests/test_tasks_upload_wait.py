"""`wait_for_upload` as an MCP Task, end to end (issue 18 part 1's long tools): the
@modelcontextprotocol/ext-tasks client (npm) creates an upload link, starts a task-augmented
`wait_for_upload` on it and gets the handle at once; the person's upload (an HTTP PUT to the link)
completes the task; a new client fetches the result through the task by id, in both generations."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import wav_bytes
from tests.test_tasks_ext_client import GENERATIONS, TIME_SCALE, Rig, ext_tasks, rig_with

pytestmark = pytest.mark.slow

# What people's browsers would see; the test reaches the same paths on the gateway's loopback address.
PUBLIC_URL = "https://aai.example.test"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with rig_with(tmp_path_factory.mktemp("data"), TIME_SCALE, public_url=PUBLIC_URL) as made:
        yield made


def put_through_link(rig: Rig, link: str, body: bytes) -> httpx.Response:
    assert link.startswith(PUBLIC_URL + "/u/"), link
    return httpx.put(rig.base + link.removeprefix(PUBLIC_URL), content=body, timeout=60)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_persons_upload_completes_a_wait_for_upload_task(rig: Rig, generation: str) -> None:
    (made,) = ext_tasks(rig.alice, {"do": "call", "tool": "create_upload_link", "arguments": {}})
    assert not made["isError"], made
    link = made["structuredContent"]["url"]
    wait = {"do": "start", "tool": "wait_for_upload", "arguments": {"link": link}}
    (started,) = ext_tasks(rig.alice, wait, generation=generation)
    assert started["kind"] == "task" and started["first"]["status"] == "working", started
    (before,) = ext_tasks(rig.alice, {"do": "snapshot", "taskId": started["taskId"]}, generation=generation)
    assert before["status"] == "working", before  # nothing uploaded yet: the task waits for the person
    audio = wav_bytes()
    uploaded = put_through_link(rig, link, audio)
    assert uploaded.status_code == 200, uploaded.text
    (fetched,) = ext_tasks(rig.alice, {"do": "fetch", "taskId": started["taskId"]}, generation=generation)
    assert fetched["status"] == "completed", fetched
    state = fetched["result"]["structuredContent"]
    assert state["state"] == "done" and state["bytes_received"] == len(audio), state
    assert state["upload_url"] and state["timed_out"] is False
    (other,) = ext_tasks(rig.bob, {"do": "snapshot", "taskId": started["taskId"]}, generation=generation)
    assert "Task not found" in other.get("thrown", ""), other
