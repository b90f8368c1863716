"""Running a task: the same tool call as a plain one, in the background, its progress written into the
task's status message, followed until the job ends (a task has no client timeout to respect), stopped
by a cancel from any instance, and taken over by another instance when the one running it died."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import TaskGroup

from aai_mcp.access.principal import Principal
from aai_mcp.mcp_server.runtime import results
from aai_mcp.mcp_server.runtime.runner import ToolRunner
from aai_mcp.mcp_server.runtime.tool_call import job_started
from aai_mcp.state.task_store import TaskRecord, TaskRecords, TaskStatus
from aai_mcp.upstream.errors import ErrorKind

log = logging.getLogger("aai_mcp.tasks")

TRANSCRIPT_TOOLS = frozenset({"transcribe", "wait_for_transcript"})
# Arguments a follow-up wait keeps from the call that started the task (how the answer is shaped).
SHAPING_ARGS = ("include_words", "text_offset")
MAX_WAIT_SECONDS = 3600.0
PRUNE_SECONDS = 600.0
# A status notification is a courtesy (clients must poll anyway): a slow or gone session never holds a task.
NOTIFY_SECONDS = 5.0

StatusListener = Callable[[TaskRecord], Awaitable[None]]


class TaskWork:
    """Runs tasks on this instance, in a task group that lives as long as the server."""

    def __init__(
        self,
        records: TaskRecords,
        runner: ToolRunner,
        heartbeat_seconds: float = 5.0,
        stale_seconds: float = 30.0,
    ) -> None:
        self.records = records
        self.runner = runner
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_seconds = stale_seconds
        self.instance = secrets.token_hex(8)
        self._group: TaskGroup | None = None
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._settled: dict[str, anyio.Event] = {}
        self._listeners: dict[str, StatusListener] = {}

    async def __aenter__(self) -> TaskWork:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._pruning)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._group is not None
        # Shutting down: running tasks stay `working` in the store, for the next instance to resume.
        self._group.cancel_scope.cancel()
        await self._group.__aexit__(*exc)
        self._group = None

    async def _pruning(self) -> None:
        """Expired tasks are never answered (reads check expiry); their rows are deleted now and then."""
        while True:
            await anyio.to_thread.run_sync(self.records.prune)
            await anyio.sleep(PRUNE_SECONDS)

    @property
    def accepting(self) -> bool:
        return self._group is not None

    def start(
        self,
        task: TaskRecord,
        principal: Principal,
        tool: str,
        arguments: dict[str, Any],
        listener: StatusListener | None = None,
    ) -> None:
        """Run the task; `listener` hears its new status when it ends here (the creating session)."""
        assert self._group is not None
        if listener is not None:
            self._listeners[task.task_id] = listener
        self._settled[task.task_id] = anyio.Event()
        self._group.start_soon(self._run, task, principal, tool, arguments)

    def stop(self, task_id: str) -> None:
        """A cancel reached this instance: stop the work (its poll loop, its upload) now."""
        scope = self._scopes.get(task_id)
        if scope is not None:
            scope.cancel()
        self.settled(task_id)

    def settled(self, task_id: str) -> None:
        event = self._settled.pop(task_id, None)
        if event is not None:
            event.set()

    async def until_settled(self, task_id: str, seconds: float) -> None:
        """Wait (at most `seconds`) for this instance to settle the task; callers re-read the store."""
        event = self._settled.get(task_id)
        with anyio.move_on_after(seconds):
            if event is not None:
                await event.wait()
            else:
                await anyio.sleep(seconds)  # run elsewhere: the store is re-read at this cadence

    async def take_over(self, task: TaskRecord) -> None:
        """The instance running `task` stopped beating: resume it here when that can be done, or settle
        it with exactly what is known."""
        stale_before = self.records.clock() - self.stale_seconds
        claimed = await anyio.to_thread.run_sync(
            self.records.claim, task.task_id, self.instance, stale_before
        )
        if not claimed or self._group is None:
            return
        if task.tool in TRANSCRIPT_TOOLS and task.transcript_id and not task.own_key:
            log.info("task=%s resumed: its instance stopped", task.task_id)
            # Only a read of the transcript the task created runs, on the account's key (as the owner's did).
            principal = Principal(id=f"task:{task.task_id[:8]}", account=task.account)
            arguments = {"transcript_id": task.transcript_id}
            self._settled[task.task_id] = anyio.Event()
            self._group.start_soon(self._run, task, principal, "wait_for_transcript", arguments)
            return
        await anyio.to_thread.run_sync(self.records.fail, task.task_id, _lost_message(task))
        self.settled(task.task_id)

    async def _run(
        self, task: TaskRecord, principal: Principal, tool: str, arguments: dict[str, Any]
    ) -> None:
        task_id = task.task_id
        listener = self._listeners.pop(task_id, None)
        with anyio.CancelScope() as scope:
            self._scopes[task_id] = scope
            try:
                async with anyio.create_task_group() as beside:
                    beside.start_soon(self._heartbeat, task_id, scope)
                    result = await self._followed(task_id, principal, tool, arguments)
                    beside.cancel_scope.cancel()
                await self._settle(task_id, result)
            finally:
                self._scopes.pop(task_id, None)
                self.settled(task_id)
        if scope.cancelled_caught:
            await self._after_cancel(task_id)
        if listener is not None:
            await announce_end(self.records, task_id, listener)

    async def _followed(
        self, task_id: str, principal: Principal, tool: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        """The tool's result once its job ended: a wait that timed out is followed by another."""
        token = job_started.set(self._noter(task_id))
        try:
            progress = self._progress(task_id)
            result = await self.runner.call(tool, _unbounded(arguments), progress, principal)
            while _timed_out(result) and not self.runner.draining:
                tool, arguments = _next_wait(tool, arguments, result)
                result = await self.runner.call(tool, _unbounded(arguments), progress, principal)
            return result
        finally:
            job_started.reset(token)

    def _noter(self, task_id: str) -> Callable[[str], Awaitable[None]]:
        async def note(job_id: str) -> None:
            await anyio.to_thread.run_sync(self.records.note_transcript, task_id, job_id)

        return note

    def _progress(self, task_id: str) -> Callable[[float, float | None, str | None], Awaitable[None]]:
        async def report(progress: float, total: float | None, message: str | None) -> None:
            fraction = progress / total if total else None
            text = message or f"working ({progress:.0f})"
            await anyio.to_thread.run_sync(self.records.report, task_id, text, fraction)

        return report

    async def _heartbeat(self, task_id: str, scope: anyio.CancelScope) -> None:
        """Beat while the work runs, and stop it when another instance recorded a cancel."""
        while True:
            await anyio.sleep(self.heartbeat_seconds)
            await anyio.to_thread.run_sync(self.records.beat, task_id, self.instance)
            if await anyio.to_thread.run_sync(self.records.status_of, task_id) == "cancelled":
                scope.cancel()

    async def _settle(self, task_id: str, result: types.CallToolResult) -> None:
        if results.error_kind(result) == ErrorKind.SHUTTING_DOWN or _timed_out(result):
            return  # this instance is shutting down: left working, for the next instance to resume
        status: TaskStatus = "failed" if result.is_error else "completed"
        message = "The tool reported an error: fetch the result." if result.is_error else "Completed."
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        await anyio.to_thread.run_sync(self.records.finish, task_id, status, dumped, message)

    async def _after_cancel(self, task_id: str) -> None:
        """Say, in the cancelled task's message, where a transcript it already started is (the job was
        billed and keeps running upstream)."""
        with anyio.CancelScope(shield=True):
            record = await anyio.to_thread.run_sync(self.records.peek, task_id)
            if record is not None and record.status == "cancelled" and record.transcript_id:
                await anyio.to_thread.run_sync(self.records.explain_cancel, task_id, cancel_message(record))


async def announce_end(records: TaskRecords, task_id: str, listener: StatusListener) -> None:
    """Tell the creating session the status the task ended in (left working at shutdown: nothing)."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(NOTIFY_SECONDS):
        record = await anyio.to_thread.run_sync(records.peek, task_id)
        if record is None or not record.terminal:
            return
        try:
            await listener(record)
        except Exception as exc:  # the session closed or its stream broke: the client polls instead
            log.debug("task=%s status notification not delivered: %s", task_id[:8], type(exc).__name__)


def cancel_message(task: TaskRecord) -> str:
    if not task.transcript_id:
        return "Cancelled by the client before any transcript was created."
    return (
        f"Cancelled by the client. Transcript {task.transcript_id} had already been created at AssemblyAI "
        f"(and billed) and keeps running there: call wait_for_transcript with "
        f"transcript_id={task.transcript_id} to get it."
    )


def _lost_message(task: TaskRecord) -> str:
    if task.transcript_id:
        return (
            f"The server instance running this task stopped, and the task cannot be resumed here (the "
            f"caller's own key is never kept). Transcript {task.transcript_id} exists at AssemblyAI: call "
            f"wait_for_transcript with transcript_id={task.transcript_id}."
        )
    return (
        "The server instance running this task stopped before it recorded a transcript id. If a job was "
        "created, list_transcripts shows it; otherwise call the tool again."
    )


def _unbounded(arguments: dict[str, Any]) -> dict[str, Any]:
    # A task has no client cut-off to stay under: each wait takes the longest the server allows.
    return {**arguments, "timeout_seconds": MAX_WAIT_SECONDS}


def _timed_out(result: types.CallToolResult) -> bool:
    structured = result.structured_content or {}
    return not result.is_error and structured.get("timed_out") is True


def _next_wait(
    tool: str, arguments: dict[str, Any], result: types.CallToolResult
) -> tuple[str, dict[str, Any]]:
    structured = result.structured_content or {}
    transcript_id = structured.get("id")
    if tool in TRANSCRIPT_TOOLS and isinstance(transcript_id, str):
        kept = {name: arguments[name] for name in SHAPING_ARGS if name in arguments}
        return "wait_for_transcript", {**kept, "transcript_id": transcript_id}
    return tool, arguments
