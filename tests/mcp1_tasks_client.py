# mypy: ignore-errors
# Runs only in its own venv with the mcp 1.x SDK (.cache/mcp1-venv, made by tests/test_tasks_mcp1_client.py):
# its experimental tasks client is gone from the mcp 2.x this project is type-checked against.
"""The Python mcp 1.x SDK's experimental tasks client (`ClientSession.experimental`, 2025-11-25) driving a
task-augmented tool call: handle, polls, result. Reads {url, tool, arguments} on stdin; prints JSON."""

import json
import sys
import time

import anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

TERMINAL = {"completed", "failed", "cancelled"}


async def run(plan: dict) -> dict:
    async with streamable_http_client(plan["url"]) as (read, write, _), ClientSession(read, write) as session:
        initialized = await session.initialize()
        started = time.monotonic()
        created = await session.experimental.call_tool_as_task(plan["tool"], plan["arguments"], ttl=600_000)
        handle_ms = (time.monotonic() - started) * 1000
        task_id = created.task.taskId
        polls = []
        async for task in session.experimental.poll_task(task_id):
            polls.append({"status": task.status, "statusMessage": task.statusMessage})
        result = await session.experimental.get_task_result(task_id, CallToolResult)
        return {
            "protocolVersion": initialized.protocolVersion,
            "serverTasks": initialized.capabilities.tasks is not None,
            "taskId": task_id,
            "handleMs": handle_ms,
            "first": created.task.status,
            "polls": polls,
            "result": result.model_dump(mode="json", by_alias=True, exclude_none=True),
        }


if __name__ == "__main__":
    print(json.dumps(anyio.run(run, json.load(sys.stdin))))
