"""The LLM Gateway's model list (`GET /v1/models`), cached per process, and the model check
ask_transcript and llm_chat_completion make against it (extract_from_transcript still
checks the configured `llm_models` only).

The list needs no key upstream (ENDPOINTS-SDK-2026-10.md §4.1), and is the same for every caller of
one region's host, so one cache per host serves every principal. A model the cached list lacks
triggers one refresh before it is refused (a model released since the last read), at most every
MIN_REFRESH_SECONDS so a caller naming unknown models in a loop cannot turn each call into a list
read. When the list cannot be read, the configured `llm_models` decide, and the result says so.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from aai_mcp.caller_input import ToolInputError, quoted
from aai_mcp.config.settings import EU_MODEL_PREFIXES, Settings
from aai_mcp.mcp_server.runtime.forward import send
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream import UpstreamError, decode_json
from aai_mcp.upstream.errors import malformed_body

MODELS_CALL = "models"
MIN_REFRESH_SECONDS = 30.0
CLOSE_MATCHES = 3
# Models one answer lists at most: far more than the gateway offers, so a runaway list cannot flood.
MAX_MODELS = 500


@dataclass(frozen=True)
class ListedModels:
    models: list[dict[str, Any]]
    read_at: float

    def ids(self) -> list[str]:
        return [str(model["id"]) for model in self.models]


class ModelDirectory:
    """The model lists read from each LLM Gateway host, kept `ttl_seconds`."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lists: dict[str, ListedModels] = {}
        self._lock = anyio.Lock()

    def cached_ids(self) -> list[str]:
        """Every model id a host's cached list holds, read or not fresh: what argument completion
        offers without spending an upstream request."""
        return sorted({model for listed in self._lists.values() for model in listed.ids()})

    async def listed(self, call: ToolCall, *, refresh: bool = False, force: bool = False) -> ListedModels:
        """The host's list, from the cache while it is fresh; UpstreamError when it cannot be read.
        `refresh` (a miss) reads again unless the copy is under MIN_REFRESH_SECONDS old; `force`
        (a caller's explicit refresh) reads again regardless."""
        host = call.upstream.base_urls["llm_gateway"]
        async with self._lock:  # one read at a time: concurrent misses share the answer
            cached = self._lists.get(host)
            now = self._clock()
            age = None if cached is None or force else now - cached.read_at
            if (
                cached is not None
                and age is not None
                and age < (MIN_REFRESH_SECONDS if refresh else self.ttl_seconds)
            ):
                return cached
            fresh = ListedModels(await read_models(call), now)
            self._lists[host] = fresh
            return fresh


async def read_models(call: ToolCall) -> list[dict[str, Any]]:
    response = await send(call, MODELS_CALL)
    payload = decode_json(response)
    data = payload.get("data") if isinstance(payload, dict) else None
    if payload is None or (isinstance(payload, dict) and data is None):
        return []  # the gateway is Go: an empty list may arrive as null (SDK models.py:85-118)
    if not isinstance(data, list):
        raise malformed_body(response.status_code, "a model list that is not {data: [...]}")
    models = [
        item for item in data[:MAX_MODELS] if isinstance(item, dict) and isinstance(item.get("id"), str)
    ]
    return [model for model in models if served_in_region(model, call.settings)]


def served_in_region(model: dict[str, Any], settings: Settings) -> bool:
    regions = model.get("available_regions")
    if settings.region != "eu" or not isinstance(regions, list):
        return True
    return "eu" in regions


def directory_of(call: ToolCall) -> ModelDirectory:
    return call.models if call.models is not None else ModelDirectory(call.settings.llm_models_ttl_seconds)


async def checked_model(call: ToolCall, model: str) -> tuple[str, str | None]:
    """`model` when the gateway lists it (and the operator's allow-list has it), with a note when the
    list could not be read and the configured models decided instead."""
    directory = directory_of(call)
    try:
        listed = await directory.listed(call)
        if model not in listed.ids():
            listed = await directory.listed(call, refresh=True)
    except UpstreamError as exc:
        return configured_model(call.settings, model, exc), fallback_note(exc)
    allowed = operator_allowed(call.settings)
    offered = [mid for mid in listed.ids() if allowed is None or mid in allowed]
    if model not in offered:
        raise ToolInputError(refusal(model, offered, "the models the LLM Gateway lists", call.settings))
    return model, None


def operator_allowed(settings: Settings) -> set[str] | None:
    """The operator's own allow-list: `llm_models` when set explicitly, else none (the gateway decides)."""
    return set(settings.llm_models) if "llm_models" in settings.model_fields_set else None


def configured_model(settings: Settings, model: str, exc: UpstreamError) -> str:
    accepted = configured_models(settings)
    if model not in accepted:
        reason = f"this server's configured models (the gateway's list could not be read: {exc.kind.value})"
        raise ToolInputError(refusal(model, accepted, reason, settings))
    return model


def configured_models(settings: Settings) -> list[str]:
    if settings.region == "eu":
        return [model for model in settings.llm_models if model.startswith(EU_MODEL_PREFIXES)]
    return list(settings.llm_models)


def refusal(model: str, offered: list[str], among: str, settings: Settings) -> str:
    close = difflib.get_close_matches(model, offered, n=CLOSE_MATCHES, cutoff=0.5)
    hint = f" Close matches: {', '.join(close)}." if close else ""
    eu = " The EU region serves Claude and Gemini models only." if settings.region == "eu" else ""
    return f"Model {quoted(model)} is not one of {among}.{hint}{eu} Call list_llm_models for all of them."


def fallback_note(exc: UpstreamError) -> str:
    return (
        f"The LLM Gateway's model list could not be read ({exc.kind.value}), so the model was checked "
        "against this server's configured list (llm_models) instead."
    )
