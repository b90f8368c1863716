"""completion/complete for prompt and resource-template arguments: transcript ids by prefix (from the
caller's own transcript list), subtitle formats, and LLM models (from the gateway's cached model list).

Completion is a typing aid: it offers only what the caller could use anyway (the same registry checks
as prompts/list and resources/templates/list), and a failure offers nothing rather than an error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import mcp_types as types
from mcp.shared.exceptions import MCPError

from aai_mcp.access.principal import Principal
from aai_mcp.gateway import Gateway
from aai_mcp.mcp_server.handlers.llm_models import configured_models, operator_allowed
from aai_mcp.mcp_server.prompts import MODEL_ARGUMENT, Prompts
from aai_mcp.mcp_server.resources import PREFIX, TranscriptResources

SUBTITLE_FORMATS = ("srt", "vtt")
# The protocol's cap on values per answer.
MAX_VALUES = 100
Values = Callable[[str], Awaitable[list[str]]]


class Completions:
    def __init__(self, gateway: Gateway, prompts: Prompts, principal: Principal) -> None:
        self.gateway = gateway
        self.prompts = prompts
        self.principal = principal
        self.resources = TranscriptResources(gateway, principal)

    async def complete(self, params: types.CompleteRequestParams) -> types.CompleteResult:
        values_for = self._values_for(params.ref, params.argument.name)
        values = await values_for(params.argument.value) if values_for else []
        return types.CompleteResult(
            completion=types.Completion(
                values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES
            )
        )

    def _values_for(
        self, ref: types.ResourceTemplateReference | types.PromptReference, argument: str
    ) -> Values | None:
        if isinstance(ref, types.PromptReference):
            if (
                not self.prompts.usable_sources(self.principal.scopes)
                or ref.name not in self.prompts.catalog.prompts
            ):
                return None
            return {"transcript_id": self._transcript_ids, MODEL_ARGUMENT: self._models}.get(argument)
        templates = {template.uri_template for template in self.resources.templates()}
        if ref.uri not in templates:
            return None
        if argument == "format" and ref.uri.endswith(".{format}"):
            return self._formats
        return self._transcript_ids if argument == "id" else None

    async def _transcript_ids(self, prefix: str) -> list[str]:
        # The newest page of the caller's own list (empty without list_transcripts' permission).
        try:
            page = await self.resources.page(None)
        except MCPError:
            return []
        ids = [str(resource.uri).removeprefix(PREFIX) for resource in page.resources]
        return [transcript_id for transcript_id in ids if transcript_id.startswith(prefix)]

    async def _formats(self, prefix: str) -> list[str]:
        return [name for name in SUBTITLE_FORMATS if name.startswith(prefix.lower())]

    async def _models(self, prefix: str) -> list[str]:
        settings = self.gateway.settings
        known = self.gateway.runner.models.cached_ids() or configured_models(settings)
        allowed = operator_allowed(settings)
        return [
            model for model in known if model.startswith(prefix) and (allowed is None or model in allowed)
        ]
