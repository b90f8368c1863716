"""MCP Tasks (2025-11-25) from the mcp 2.x Python client, which has no tasks API of its own but still
models the 2025-11-25 task messages: the session's dispatcher sends a task-augmented `tools/call`
(`send_request` would check the answer against CallToolResult), then the public
`ClientSession.send_request` sends `tasks/get` until the task ends and `tasks/result`, typed by the
SDK's own models, against a gateway on loopback running a ten-minute simulated job on a 60x clock."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.test_tasks_ext_client import REAL_JOB_SECONDS, TIME_SCALE, Rig, audio_url, rig_with

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TERMINAL = ("completed", "failed", "cancelled")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with rig_with(tmp_path_factory.mktemp("data"), TIME_SCALE) as made:
        yield made


async def test_the_sdk_2_client_runs_transcribe_as_a_task_through_its_request_layer(rig: Rig) -> None:
    http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=120))
    async with http, Client(streamable_http_client(rig.alice, http_client=http), mode="legacy") as client:
        assert client.protocol_version == "2025-11-25" and client.server_capabilities.tasks is not None
        arguments = {"audio_url": audio_url(rig)}
        call = types.CallToolRequestParams(name="transcribe", arguments=arguments, task=types.TaskMetadata())
        started = time.monotonic()
        # send_request checks a tools/call answer against CallToolResult, which a task handle is not: the
        # session's dispatcher sends the same request one level lower and returns the answer as it came.
        raw = await client.session._dispatcher.send_raw_request(
            "tools/call", call.model_dump(by_alias=True, mode="json", exclude_none=True), None
        )
        assert time.monotonic() - started < REAL_JOB_SECONDS / 2, "the handle came back only after the job"
        created = types.CreateTaskResult.model_validate(raw, by_name=False)
        task_id = created.task.task_id
        seen: list[types.GetTaskResult] = []
        with anyio.fail_after(REAL_JOB_SECONDS * 12):  # generous: a loaded machine
            while not seen or seen[-1].status not in TERMINAL:
                get = types.GetTaskRequest(params=types.GetTaskRequestParams(task_id=task_id))
                seen.append(await client.session.send_request(get, types.GetTaskResult))
                await anyio.sleep((seen[-1].poll_interval or 1000) / 1000)
        assert seen[-1].status == "completed", seen[-1]
        phases = {(task.status_message or "").split(" after ")[0] for task in seen}
        assert {"status queued", "status processing"} <= phases, phases
        payload = types.GetTaskPayloadRequest(params=types.GetTaskPayloadRequestParams(task_id=task_id))
        result = await client.session.send_request(payload, types.CallToolResult)
        assert isinstance(result.structured_content, dict), result
        assert result.structured_content["status"] == "completed" and result.structured_content["text"]
