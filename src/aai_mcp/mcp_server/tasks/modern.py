"""The 2026-07-28 generation of Tasks, the `io.modelcontextprotocol/tasks` extension (SEP-2663): a
`tools/call` answers `resultType: "task"` only when the request's own client capabilities declare the
extension; `tasks/get` carries the result or error inline; `tasks/cancel` and `tasks/update` answer
with empty acknowledgements; there is no `tasks/list` or `tasks/result`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcp_types.version import MODERN_PROTOCOL_VERSIONS

if TYPE_CHECKING:
    from aai_mcp.state.task_store import TaskRecord


EXTENSION_ID = "io.modelcontextprotocol/tasks"
CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
POLL_INTERVAL_MS = 1000
# The JSON-RPC error a task that ended without a tool result carries (its instance was lost).
TASK_LOST_CODE = -32603


def is_modern(protocol_version: str) -> bool:
    return protocol_version in MODERN_PROTOCOL_VERSIONS


def asks_for_task(params: Mapping[str, Any]) -> bool:
    """A 2026-07-28 request opts in per request, by declaring the extension in its capabilities."""
    meta = params.get("_meta")
    capabilities = meta.get(CLIENT_CAPABILITIES_META) if isinstance(meta, Mapping) else None
    extensions = capabilities.get("extensions") if isinstance(capabilities, Mapping) else None
    return isinstance(extensions, Mapping) and EXTENSION_ID in extensions


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def task_fields(task: TaskRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "taskId": task.task_id,
        "status": task.status,
        "createdAt": iso(task.created_at),
        "lastUpdatedAt": iso(task.updated_at),
        "ttlMs": task.ttl_ms,
        "pollIntervalMs": POLL_INTERVAL_MS,
    }
    if task.status_message:
        fields["statusMessage"] = task.status_message
    return fields


def created(task: TaskRecord) -> dict[str, Any]:
    return {"resultType": "task", **task_fields(task)}


def detailed(task: TaskRecord) -> dict[str, Any]:
    """`tasks/get`: a tool's result (an error result too) is a completed task's `result`; a task that
    ended with no result (its instance was lost) failed, with a JSON-RPC error saying what is known."""
    fields = task_fields(task)
    if task.status in ("completed", "failed") and task.result is not None:
        return {**fields, "status": "completed", "result": task.result}
    if task.status == "failed":
        message = task.error or task.status_message or "The task failed."
        return {**fields, "error": {"code": TASK_LOST_CODE, "message": message}}
    return fields
