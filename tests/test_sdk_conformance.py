"""Tools on hosts no bundled OpenAPI spec covers (Sync STT, Dictation) checked against the official
SDK 1.8.2 instead, the source ENDPOINTS-SDK-2026-10.md cites: the same host and path as its client,
and exactly the config fields its request model has (no field invented, none left out)."""

from __future__ import annotations

from typing import Any

import assemblyai as aai
import pytest
from assemblyai.dictation.v1 import api as dictation_api
from assemblyai.sync.v1 import api as sync_api

from aai_mcp.upstream.hosts import REGION_HOSTS
from tests.support.spec_reference import CATALOG

# tool -> (the SDK's config model, its endpoint path, its default base URL)
SDK_SOURCED: dict[str, tuple[Any, str, str]] = {
    "transcribe_clip": (
        aai.SyncTranscriptionConfig,
        sync_api.ENDPOINT_TRANSCRIBE_LIVE,
        type(aai.settings).model_fields["sync_base_url"].default,
    ),
    "dictate": (
        aai.DictationConfig,
        dictation_api.ENDPOINT_TRANSCRIBE_LIVE,
        type(aai.settings).model_fields["dictation_base_url"].default,
    ),
}


def test_every_tool_on_an_sdk_sourced_host_is_checked_here() -> None:
    on_sdk_hosts = {
        name
        for name, spec in CATALOG.tools.items()
        if not spec.local and spec.route.host in ("sync", "dictation") and spec.name != "transcribe"
    }
    assert on_sdk_hosts == set(SDK_SOURCED)


@pytest.mark.parametrize("name", sorted(SDK_SOURCED))
def test_the_call_is_the_sdk_clients(name: str) -> None:
    _, path, base_url = SDK_SOURCED[name]
    route = CATALOG.tools[name].route
    assert (route.method, route.path) == ("POST", path)
    assert REGION_HOSTS["us"][route.host] == base_url


@pytest.mark.parametrize("name", sorted(SDK_SOURCED))
def test_the_config_fields_are_exactly_the_sdk_models(name: str) -> None:
    model = SDK_SOURCED[name][0]
    fields = set(model.model_fields)
    spec = CATALOG.tools[name]
    offered = set(spec.params.body) | (set(spec.params.options) & fields)
    assert set(spec.params.body) <= fields
    assert offered == fields


def test_transcribe_sync_call_is_the_sync_tools() -> None:
    sync = CATALOG.tools["transcribe"].call("sync")
    assert (sync.host, sync.method, sync.path) == ("sync", "POST", sync_api.ENDPOINT_TRANSCRIBE_LIVE)
