"""One tool call from arguments to CallToolResult: validate, run, shape, report."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

import mcp_types as types

from aai_mcp.registry import Registry
from aai_mcp.settings import Settings
from aai_mcp.tools import results
from aai_mcp.tools.call import Handler, ProgressFn, ToolCall, ToolInputError, no_progress
from aai_mcp.tools.forward import forward
from aai_mcp.tools.handlers import HANDLERS
from aai_mcp.tools.polling import TranscriptPoller
from aai_mcp.tools.validation import ArgumentValidator
from aai_mcp.tools.view_types import ViewContext
from aai_mcp.tools.views import VIEWS
from aai_mcp.upstream import Upstream, UpstreamError
from aai_mcp.upstream.transcripts import read_transcript

log = logging.getLogger("aai_mcp.calls")


class ToolRunner:
    def __init__(self, registry: Registry, upstream: Upstream, settings: Settings) -> None:
        self.registry = registry
        self.upstream = upstream
        self.settings = settings
        self._validators = {name: ArgumentValidator(spec) for name, spec in registry.specs.items()}
        self.poller = TranscriptPoller(
            partial(read_transcript, upstream),
            settings.wait_poll_initial_seconds,
            settings.wait_poll_max_seconds,
        )

    async def call(
        self, name: str, arguments: dict[str, Any] | None, progress: ProgressFn = no_progress
    ) -> types.CallToolResult:
        started = time.monotonic()
        result, status = await self._call(name, arguments or {}, progress)
        outcome = "error" if result.is_error else "ok"
        log.info(
            "tool=%s outcome=%s upstream_status=%s duration_ms=%.0f",
            name,
            outcome,
            status,
            (time.monotonic() - started) * 1000,
        )
        return result

    async def _call(
        self, name: str, args: dict[str, Any], progress: ProgressFn
    ) -> tuple[types.CallToolResult, int | None]:
        simulated = self.settings.simulated
        spec = self.registry.get(name)
        if spec is None:
            known = ", ".join(sorted(self.registry.specs))
            return results.input_error(f"Unknown tool '{name}'. Tools: {known}.", simulated=simulated), None
        problem = self._validators[name].problem(args)
        if problem:
            return results.input_error(problem, simulated=simulated), None
        args = self._with_option_defaults(spec.name, args)
        call = ToolCall(
            spec=spec,
            args=args,
            upstream=self.upstream,
            settings=self.settings,
            poller=self.poller,
            progress=progress,
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
            base_url=self.upstream.base_urls[spec.host],
            now=datetime.now(UTC),
        )
        shaped = VIEWS[spec.view](payload, context)
        failed_job = (
            isinstance(payload, dict) and spec.view == "transcript" and payload.get("status") == "error"
        )
        return results.success(shaped, simulated=simulated, is_error=failed_job), 200

    def _with_option_defaults(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        spec = self.registry.specs[name]
        filled = dict(args)
        for option, param in spec.params.options.items():
            if option not in filled and param.default is not None:
                filled[option] = param.default
        return filled
