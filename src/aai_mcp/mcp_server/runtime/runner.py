"""One tool call from arguments to CallToolResult: validate, run, shape, report."""

from __future__ import annotations

import functools
import logging
import math
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from aai_mcp.access.principal import LOCAL, Principal
from aai_mcp.caller_input import ToolInputError
from aai_mcp.catalog.model import MAX_NAME_LENGTH
from aai_mcp.config.settings import Settings
from aai_mcp.logs import redacting
from aai_mcp.mcp_server.handlers.connector import transcript_url_base
from aai_mcp.mcp_server.handlers.handler_table import HANDLERS
from aai_mcp.mcp_server.handlers.llm_models import ModelDirectory
from aai_mcp.mcp_server.handlers.polling import ExpectedWebhook, TranscriptPoller
from aai_mcp.mcp_server.registry import Registry
from aai_mcp.mcp_server.runtime import results
from aai_mcp.mcp_server.runtime.forward import forward
from aai_mcp.mcp_server.runtime.tool_call import Handler, ProgressFn, ToolCall, no_progress
from aai_mcp.mcp_server.runtime.validation import ArgumentValidator, unfolded
from aai_mcp.mcp_server.speech_clips import SpeechClips, clip_owner
from aai_mcp.mcp_server.views.contract import ViewContext
from aai_mcp.mcp_server.views.view_table import VIEWS
from aai_mcp.metrics import CANCELLED, JOB_FAILED, OK, UNKNOWN_TOOL, Metrics, unregistered_metrics
from aai_mcp.redaction import Redactor, held_keys
from aai_mcp.state.shared import Hold, SharedState
from aai_mcp.state.shared_memory import InProcessState
from aai_mcp.uplink.link_service import LinkUploads
from aai_mcp.upstream import Upstream, UpstreamError
from aai_mcp.upstream.errors import ErrorKind
from aai_mcp.upstream.hosts import socket_host
from aai_mcp.upstream.key_pool import KeyPool
from aai_mcp.upstream.pooled_send import PooledKeys
from aai_mcp.upstream.usage import UsageMeter
from aai_mcp.webhooks.submission import gateway_webhook_url

if TYPE_CHECKING:
    from aai_mcp.state.archive_store import ArchiveStore

audit = logging.getLogger("aai_mcp.audit")
log = logging.getLogger("aai_mcp.tools")

# Seconds of the shutdown grace period kept back so a cut-short call's error still reaches its client.
SHUTDOWN_HEADROOM_SECONDS = 2.0


class ToolRunner:
    def __init__(
        self,
        registry: Registry,
        upstream: Upstream,
        settings: Settings,
        shared: SharedState | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.registry = registry
        self.metrics = metrics or unregistered_metrics(registry.catalog.tools)
        self.upstream = upstream
        self.settings = settings
        self.shared: SharedState = shared or InProcessState()
        self.usage: UsageMeter | None = None
        """Set by the gateway: counts the usage the tools' answers show (the proxy's too)."""
        self._validators = {name: ArgumentValidator(spec) for name, spec in registry.specs.items()}
        self.poller = TranscriptPoller(
            settings.wait_poll_initial_seconds,
            settings.wait_poll_max_seconds,
            self.shared,
            expected_webhook(settings),
        )
        self._calls: set[anyio.CancelScope] = set()
        self.models = ModelDirectory(settings.llm_models_ttl_seconds)
        self._cut_off = math.inf
        self.redactor = held_keys(settings)
        self.key_pool: KeyPool | None = None
        """The accounts' key pools (set by Gateway.use_store); a pooled account's calls choose keys in it."""
        self.archive: ArchiveStore | None = None
        """The transcript archive (set by Gateway.use_store): tools that read transcripts read it first."""
        self.links: LinkUploads | None = None
        """Upload links (set by Gateway.use_store): their state lives in the store."""
        self.clips = SpeechClips(self.shared)
        """Speech too large for a tool result, held briefly as resources (in the shared state)."""

    def drain(self, grace_seconds: float) -> None:
        """Shutdown began: waits return what they have now; calls still running near the end of the
        grace period get a retryable error instead of being dropped with their connection."""
        self.poller.stop()
        allowed = max(grace_seconds - SHUTDOWN_HEADROOM_SECONDS, grace_seconds / 2)
        self._cut_off = anyio.current_time() + allowed
        for scope in self._calls:
            scope.deadline = min(scope.deadline, self._cut_off)

    @property
    def draining(self) -> bool:
        """Shutdown began (`drain` was called)."""
        return self._cut_off != math.inf

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        progress: ProgressFn = no_progress,
        principal: Principal = LOCAL,
    ) -> types.CallToolResult:
        """A visible tool's call ends in a result (a bug too: kind `internal`) and exactly one audit line;
        an unknown or hidden tool is the protocol's unknown-tool error (also audited once)."""
        started = time.monotonic()
        if self.registry.visible(name, principal.scopes) is None:
            raise self._unknown(name, principal)
        redactor = self.redactor_for(principal)
        outcome, status, counted = "cancelled", None, CANCELLED
        with redacting(redactor):
            try:
                result, status = await self._guarded(name, arguments or {}, progress, principal)
                outcome = "error" if result.is_error else "ok"
                counted = (results.error_kind(result) or JOB_FAILED) if result.is_error else OK
                return self._redacted(name, result, redactor)
            finally:
                self.metrics.tool_call(name, counted, time.monotonic() - started)
                # The audit line: who called what and how it went; never argument values (they may
                # hold secrets). In `finally`, so a call its client cancelled is written down too.
                audit.info(
                    "token=%s tool=%s outcome=%s upstream_status=%s duration_ms=%.0f",
                    principal.id,
                    name,
                    outcome,
                    status,
                    (time.monotonic() - started) * 1000,
                )

    def _redacted(self, name: str, result: types.CallToolResult, redactor: Redactor) -> types.CallToolResult:
        try:
            return results.redacted(result, redactor)
        except Exception as exc:  # a result the redactor cannot read is a bug: still a result, never leaked
            _log_internal(name, exc)
            return results.internal_error(simulated=self.settings.simulated)

    def redactor_for(self, principal: Principal) -> Redactor:
        """The server's keys, and the caller's own key when it brought one."""
        key = principal.api_key.get_secret_value() if principal.api_key is not None else None
        return self.redactor.including(key)

    async def _guarded(
        self, name: str, args: dict[str, Any], progress: ProgressFn, principal: Principal
    ) -> tuple[types.CallToolResult, int | None]:
        try:
            return await self._admitted(name, args, progress, principal)
        except Exception as exc:
            _log_internal(name, exc)
            return results.internal_error(simulated=self.settings.simulated), None

    def _unknown(self, name: str, principal: Principal) -> MCPError:
        """A tool hidden by a filter or by the caller's scopes is refused exactly like one that does not
        exist (no existence oracle), as the protocol's unknown-tool error."""
        # The name is the caller's text: logged only when it is one of ours.
        logged = name if name in self.registry.catalog.tools else "(not-a-tool)"
        self.metrics.tool_call(name, UNKNOWN_TOOL, 0.0)
        audit.info(
            "token=%s tool=%s outcome=unknown_tool upstream_status=None duration_ms=0", principal.id, logged
        )
        shown = name if len(name) <= MAX_NAME_LENGTH else name[:MAX_NAME_LENGTH] + "…"
        return MCPError(INVALID_PARAMS, f"Unknown tool: {shown}")

    async def _admitted(
        self, name: str, args: dict[str, Any], progress: ProgressFn, principal: Principal
    ) -> tuple[types.CallToolResult, int | None]:
        hold = await self.try_hold(principal)
        if hold is None:
            limit = self.settings.max_concurrent_calls_per_token
            message = f"Too many calls at once for this token ({limit} allowed); wait for one to finish."
            return results.refused(message, ErrorKind.TOO_MANY_CALLS, simulated=self.settings.simulated), None
        try:
            return await self._until_cut_off(name, args, progress, principal)
        finally:
            await self.shared.release(hold)

    async def _until_cut_off(
        self, name: str, args: dict[str, Any], progress: ProgressFn, principal: Principal
    ) -> tuple[types.CallToolResult, int | None]:
        with anyio.CancelScope(deadline=self._cut_off) as scope:
            self._calls.add(scope)
            try:
                return await self._call(name, args, progress, principal)
            finally:
                self._calls.discard(scope)
        message = (
            f"The server is shutting down (a restart or scale-in) and stopped {name} before it finished. "
            "Call it again: the next call reaches a running server."
        )
        return results.refused(message, ErrorKind.SHUTTING_DOWN, simulated=self.settings.simulated), None

    async def _call(
        self, name: str, args: dict[str, Any], progress: ProgressFn, principal: Principal
    ) -> tuple[types.CallToolResult, int | None]:
        simulated = self.settings.simulated
        spec = self.registry.specs[name]  # call() let only visible tools through
        denied = self.registry.lacking(spec, principal.scopes, args)
        if denied:
            return results.refused(f"Not allowed: {denied}.", ErrorKind.FORBIDDEN, simulated=simulated), None
        problem = self._validators[name].problem(args)
        if problem:
            return results.input_error(problem, simulated=simulated), None
        args = unfolded(spec, args)
        # Again on the unfolded arguments: a `uses.when` naming a field folded into `options` must not
        # be dodged by sending that field inside it.
        denied = self.registry.lacking(spec, principal.scopes, args)
        if denied:
            return results.refused(f"Not allowed: {denied}.", ErrorKind.FORBIDDEN, simulated=simulated), None
        args = self._with_option_defaults(spec.name, args)
        upstream = self.upstream_for(principal)
        call = ToolCall(
            spec=spec,
            args=args,
            upstream=upstream,
            settings=self.settings,
            poller=self.poller,
            progress=progress,
            partition=principal.partition(),
            archive=self.archive,
            account=principal.account,
            links=self.links,
            own_key=principal.bills_own_key,
            models=self.models,
            clips=self.clips,
            owner=clip_owner(principal),
        )
        handler: Handler = HANDLERS[spec.handler] if spec.handler else forward
        try:
            payload = await handler(call)
        except ToolInputError as exc:
            return results.input_error(str(exc), simulated=simulated), None
        except UpstreamError as exc:
            return results.upstream_error(exc, simulated=simulated), exc.status
        context = ViewContext(
            spec=spec,
            args=args,
            max_chars=self.settings.max_result_chars,
            # Only token views build a URL from it; a local tool has no host, so it gets none.
            base_url="" if spec.local else self.upstream.base_urls[socket_host(spec.route.host)],
            now=datetime.now(UTC),
            transcript_url_base=transcript_url_base(self.settings),
        )
        shaped = VIEWS[spec.view](payload, context)
        return results.success(shaped, simulated=simulated, plain_text=spec.plain_text), 200

    def upstream_for(self, principal: Principal) -> Upstream:
        """The upstream a caller's calls go through: its account's key pool when it has one (unless the
        caller brought its own key), else its own or its account's key, else the server's; its answers
        metered for the caller's team."""
        upstream = self._keyed_upstream(principal)
        if self.usage is None or principal.bills_own_key:
            return upstream
        return upstream.observed(functools.partial(self.usage.upstream_answer, principal.account))

    def _keyed_upstream(self, principal: Principal) -> Upstream:
        pool = self.key_pool
        passthrough = principal.scopes is None and principal.api_key is not None
        if pool is not None and not passthrough and pool.serves(principal.account):
            return self.upstream.pooled(PooledKeys(pool, principal.account))
        if principal.api_key is None:
            return self.upstream
        return self.upstream.with_key(principal.api_key.get_secret_value())

    def _with_option_defaults(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        spec = self.registry.specs[name]
        filled = dict(args)
        for option, param in spec.params.options.items():
            if option not in filled and param.default is not None:
                filled[option] = param.default
        return filled

    async def try_hold(self, principal: Principal) -> Hold | None:
        """Take one of `principal`'s concurrent-call places (tool calls, and resource reads, which reach
        upstream too), counted across every instance when state is shared; None when all are taken.
        Give it back with `self.shared.release`."""
        limit = sys.maxsize if principal is LOCAL else self.settings.max_concurrent_calls_per_token
        return await self.shared.try_hold(principal.id, limit)


def expected_webhook(settings: Settings) -> ExpectedWebhook | None:
    url = gateway_webhook_url(settings)
    return None if url is None else ExpectedWebhook(url, settings.webhook_wait_poll_seconds)


def _log_internal(name: str, exc: Exception) -> None:
    # The exception's type and where it was raised, never its text: messages of OSError, ValueError
    # and friends quote the values (paths, URLs, keys) the call was given.
    where = "".join(traceback.format_tb(exc.__traceback__))
    log.error("tool=%s failed with an internal error %s\n%s", name, type(exc).__name__, where.rstrip())
