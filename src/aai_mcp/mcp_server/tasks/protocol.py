"""MCP Tasks on the wire (2025-11-25 experimental tasks), as an SDK extension: a `tools/call` that
asks for a task gets a handle at once; `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel`
answer from the store, so any instance answers for any task, and only to the caller that created it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.lowlevel import Server
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, METHOD_NOT_FOUND
from pydantic import ConfigDict

from aai_mcp.access.principal import Principal
from aai_mcp.mcp_server.registry import Registry
from aai_mcp.mcp_server.tasks import modern
from aai_mcp.mcp_server.tasks.task_work import StatusListener, TaskWork, cancel_message
from aai_mcp.state.task_store import TaskCaller, TaskRecord, owner_of

audit = logging.getLogger("aai_mcp.audit")

EXTENSION_ID = modern.EXTENSION_ID
RELATED_TASK = "io.modelcontextprotocol/related-task"
DEFAULT_TTL_MS = 3_600_000
MAX_TTL_MS = 7 * 24 * 3_600_000
POLL_INTERVAL_MS = 1000
TASK_ID_MAX = 64
# How often a blocked tasks/result re-reads the store (the task may run on another instance).
RESULT_RECHECK_SECONDS = 1.0

PrincipalOf = Callable[[ServerRequestContext[Any]], Principal]


class TaskIdParams(types.RequestParams):
    model_config = ConfigDict(extra="allow")
    task_id: str


class TaskListParams(types.RequestParams):
    model_config = ConfigDict(extra="allow")
    cursor: str | None = None


def caller_of(principal: Principal) -> TaskCaller:
    return TaskCaller(
        owner_of(principal.id, principal.partition()), principal.account, principal.bills_own_key
    )


def task_wire(task: TaskRecord) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "taskId": task.task_id,
        "status": task.status,
        "createdAt": modern.iso(task.created_at),
        "lastUpdatedAt": modern.iso(task.updated_at),
        "ttl": task.ttl_ms,
        "pollInterval": POLL_INTERVAL_MS,
    }
    if task.status_message:
        wire["statusMessage"] = task.status_message
    return wire


class TasksExtension(Extension):
    """The server side of Tasks, contributed to the low-level server through the SDK's extension types:
    its methods are `MethodBinding`s, and task-augmented `tools/call` is a context-tier middleware
    (the SDK sieves a handler's `tools/call` result down to a CallToolResult, which would drop the task)."""

    identifier = EXTENSION_ID

    def __init__(self, work: TaskWork, registry: Registry, principal_of: PrincipalOf) -> None:
        self.work = work
        self.registry = registry
        self.principal_of = principal_of

    def methods(self) -> Sequence[MethodBinding]:
        return (
            MethodBinding("tasks/get", TaskIdParams, self.get),
            MethodBinding("tasks/result", TaskIdParams, self.result),
            MethodBinding("tasks/list", TaskListParams, self.list),
            MethodBinding("tasks/cancel", TaskIdParams, self.cancel),
            MethodBinding("tasks/update", TaskIdParams, self.update),
        )

    def install(self, server: Server[Any]) -> None:
        for binding in self.methods():
            server.add_request_handler(binding.method, binding.params_type, binding.handler)
        server.middleware.append(self.middleware)
        server.extensions[EXTENSION_ID] = {}  # 2026-07-28: an empty object declares support

    async def middleware(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params if isinstance(ctx.params, Mapping) else None
        if ctx.method != "tools/call" or params is None or not _asks_for_task(ctx.protocol_version, params):
            return await call_next(ctx)
        call = types.CallToolRequestParams.model_validate(dict(params), by_name=False)
        spec = self.registry.visible(call.name, self.principal_of(ctx).scopes)
        if spec is None:
            return await call_next(ctx)  # the plain path refuses it, as for any unknown tool
        if spec.task_support is None or not self.work.accepting:
            raise MCPError(METHOD_NOT_FOUND, f"{call.name} does not run as a task")
        return await self._created(ctx, call)

    async def _created(
        self, ctx: ServerRequestContext[Any, Any], call: types.CallToolRequestParams
    ) -> HandlerResult:
        principal = self.principal_of(ctx)
        ttl = _ttl(call.task.ttl if call.task is not None else None)
        arguments = dict(call.arguments or {})
        records = self.work.records
        task = await anyio.to_thread.run_sync(
            records.create, caller_of(principal), call.name, arguments, ttl, self.work.instance
        )
        if call.name == "wait_for_transcript" and isinstance(arguments.get("transcript_id"), str):
            await anyio.to_thread.run_sync(records.note_transcript, task.task_id, arguments["transcript_id"])
        # Never the arguments (they may hold secrets); the task id's head is enough to follow it.
        audit.info("token=%s tool=%s task=%s created", principal.id, call.name, task.task_id[:8])
        if modern.is_modern(ctx.protocol_version):
            # The extension's notifications/tasks ride subscriptions/listen streams, which the SDK's
            # listen handler limits to its own change events: 2026-07-28 clients poll tasks/get.
            self.work.start(task, principal, call.name, arguments)
            return modern.created(task)
        self.work.start(task, principal, call.name, arguments, status_notifier(ctx.session))
        return {"task": task_wire(task)}

    async def get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> HandlerResult:
        task = await self._live(ctx, params.task_id)
        return modern.detailed(task) if modern.is_modern(ctx.protocol_version) else task_wire(task)

    async def update(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> HandlerResult:
        """No tool here asks its caller for input, so no input response can match a request."""
        _only_modern(ctx)
        await self._live(ctx, params.task_id)
        raise MCPError(INVALID_PARAMS, "This task has no outstanding input requests: it needs no input")

    async def result(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> HandlerResult:
        """Blocks until the task is settled, then its tool result (or the error that ended it)."""
        _only_legacy(ctx)
        task = await self._live(ctx, params.task_id)
        while not task.terminal:
            await self.work.until_settled(task.task_id, RESULT_RECHECK_SECONDS)
            task = await self._live(ctx, params.task_id)
        related = {RELATED_TASK: {"taskId": task.task_id}}
        if task.result is not None:
            return {**task.result, "_meta": {**task.result.get("_meta", {}), **related}}
        message = task.status_message or task.error or f"The task is {task.status}."
        content = [{"type": "text", "text": message}]
        return {"content": content, "isError": True, "_meta": related}

    async def list(self, ctx: ServerRequestContext[Any, Any], params: TaskListParams) -> HandlerResult:
        _only_legacy(ctx)
        after = _cursor(params.cursor)
        owner = caller_of(self.principal_of(ctx)).owner
        page = await anyio.to_thread.run_sync(self.work.records.page, owner, after)
        answer: dict[str, Any] = {"tasks": [task_wire(task) for task in page]}
        if len(page) == self.work.records.page_size:
            answer["nextCursor"] = repr(page[-1].created_at)
        return answer

    async def cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> HandlerResult:
        task = await self._live(ctx, params.task_id)
        if task.terminal:
            raise MCPError(INVALID_PARAMS, f"Cannot cancel task: it is already {task.status}")
        owner = caller_of(self.principal_of(ctx)).owner
        cancelled = await anyio.to_thread.run_sync(
            self.work.records.cancel, task.task_id, owner, cancel_message(task)
        )
        self.work.stop(task.task_id)
        audit.info("token=%s task=%s cancelled", self.principal_of(ctx).id, task.task_id[:8])
        if cancelled is None:
            raise MCPError(INVALID_PARAMS, "Task not found")
        return {} if modern.is_modern(ctx.protocol_version) else task_wire(cancelled)

    async def _live(self, ctx: ServerRequestContext[Any, Any], task_id: str) -> TaskRecord:
        """The caller's task (another caller's is answered exactly like a missing one), taken over
        first when the instance running it stopped."""
        if len(task_id) > TASK_ID_MAX:
            raise MCPError(INVALID_PARAMS, "Task not found")
        owner = caller_of(self.principal_of(ctx)).owner
        records = self.work.records
        task = await anyio.to_thread.run_sync(records.get, task_id, owner)
        if task is None:
            raise MCPError(INVALID_PARAMS, "Task not found")
        if task.stalled(records.clock(), self.work.stale_seconds):
            await self.work.take_over(task)
            task = await anyio.to_thread.run_sync(records.get, task_id, owner) or task
        return task


def status_notifier(session: ServerSession) -> StatusListener:
    """`notifications/tasks/status` (2025-11-25) to the session that created the task, on the
    session's own stream (Streamable HTTP: its GET stream), when the task's status changes."""

    async def notify(task: TaskRecord) -> None:
        params = types.TaskStatusNotificationParams.model_validate(task_wire(task))
        # The SDK still models this 2025-11-25 notification but leaves it out of its ServerNotification union.
        await session.send_notification(types.TaskStatusNotification(params=params))  # type: ignore[arg-type]

    return notify


def _asks_for_task(protocol_version: str, params: Mapping[str, Any]) -> bool:
    if modern.is_modern(protocol_version):
        return modern.asks_for_task(params)
    return isinstance(params.get("task"), Mapping)


def _only_legacy(ctx: ServerRequestContext[Any, Any]) -> None:
    # The 2026-07-28 extension has no tasks/list or tasks/result: tasks/get carries the result.
    if modern.is_modern(ctx.protocol_version):
        raise MCPError(METHOD_NOT_FOUND, "Method not found", ctx.method)


def _only_modern(ctx: ServerRequestContext[Any, Any]) -> None:
    if not modern.is_modern(ctx.protocol_version):
        raise MCPError(METHOD_NOT_FOUND, "Method not found", ctx.method)


def _ttl(asked: int | None) -> int:
    if asked is None or asked <= 0:
        return DEFAULT_TTL_MS
    return min(asked, MAX_TTL_MS)


def _cursor(cursor: str | None) -> float | None:
    if cursor is None:
        return None
    try:
        return float(cursor)
    except ValueError:
        raise MCPError(INVALID_PARAMS, "Invalid cursor") from None


def tasks_capability() -> dict[str, Any]:
    """The 2025-11-25 `capabilities.tasks`: list, cancel, and task-augmented tools/call."""
    return {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
