"""The official AssemblyAI specs, loaded for the conformance tests (a helper, not a test module).

The specs live outside the repo, in shared/reference/assemblyai beside it (or AAI_MCP_SPEC_DIR).
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from aai_mcp.catalog import ToolSpec, default_schema_dir
from aai_mcp.catalog.spec_schemas import (
    accepted_types,
    allowed_values,
    alternatives,
    deprecated_properties,
    flatten,
    json_type,
    resolve,
    schema_problems,
)
from aai_mcp.catalog.upstream_specs import (
    SDK_FIELDS_FILE,
    Operation,
    Specs,
    apply_sdk_fields,
    index_operations,
    normalise_path,
    placeholders,
)
from aai_mcp.catalog.yaml_loader import load_yaml
from aai_mcp.gateway import load_default_catalog
from tests.support.speech_spec import TOKEN_SOURCE, TOKEN_SPEC, TTS_SOURCE, TTS_SPEC

CATALOG = load_default_catalog()

# Tool parameters AssemblyAI documents but the spec snapshot (2026-03-23) does not have yet.
DOCUMENTED_AFTER_SPEC: dict[tuple[str, str], str] = {
    ("llm_chat_completion", "transcript_id"): (
        'ENDPOINTS.md §8 "Documented later, not in [L]": chat completions take a top-level '
        "transcript_id whose text replaces the first {{ transcript }} tag."
    ),
}

SPEC_DIR_ENV = "AAI_MCP_SPEC_DIR"
# tests/ -> the repo (/work/main) -> its parent, where shared/ sits beside the clone.
DEFAULT_SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference" / "assemblyai"

# Host -> the spec file describing it. openapi.json, never openapi.yml: PyYAML reads its bare
# `- no` (Norwegian) as False. The YAML files go through the project's strict loader.
SPEC_FILES = {"api": "openapi.json", "llm_gateway": "llm-gateway.yml", "streaming": "streaming-token.yml"}

# The Voice Agent token endpoint is not in the spec repo. ENDPOINTS.md §2 row 15 and §10 document
# GET https://agents.assemblyai.com/v1/token with the same query parameters as the streaming token.
AGENTS_SPEC: dict[str, Any] = {
    "servers": [{"url": "https://agents.assemblyai.com"}],
    "paths": {
        "/v1/token": {
            "get": {
                "operationId": "generateVoiceAgentToken",
                "parameters": [
                    {
                        "name": "expires_in_seconds",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 600},
                    },
                    {
                        "name": "max_session_duration_seconds",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 60, "maximum": 10800, "default": 10800},
                    },
                ],
            }
        }
    },
}
AGENTS_SOURCE = "ENDPOINTS.md §10 (not in the spec repo)"
# LLM Gateway operations the 2026-10 SDK calls that the bundled 2026-03 spec lacks
# (ENDPOINTS-SDK-2026-10.md §4.1, §4.3; `llm_gateway/v1/api.py:9-12`, `_base.py:64-75`).
GATEWAY_SDK_SOURCE = "ENDPOINTS-SDK-2026-10.md §4 (not in the 2026-03 spec)"
GATEWAY_SDK_PATHS: dict[str, Any] = {
    "/models": {"get": {"operationId": "listModels"}},
    "/understanding/validate": {
        "post": {
            "operationId": "validateUnderstanding",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["speech_understanding"],
                            "properties": {
                                "transcript_id": {"type": "string"},
                                "speech_understanding": {"type": "object"},
                            },
                        }
                    }
                },
            },
        }
    },
}


class SpecMissingError(RuntimeError):
    """The reference specs are not where the tests look for them."""


def spec_dir() -> Path:
    configured = os.environ.get(SPEC_DIR_ENV)
    directory = Path(configured) if configured else DEFAULT_SPEC_DIR
    missing = [name for name in SPEC_FILES.values() if not (directory / name).is_file()]
    if missing:
        raise SpecMissingError(
            f"AssemblyAI reference specs not found: {directory} lacks {missing}. Put the spec repo "
            f"copy at <repo>/../shared/reference/assemblyai or set {SPEC_DIR_ENV} to its directory."
        )
    return directory


def load_specs(directory: Path | None = None) -> Specs:
    """The specs in `directory`, else in spec_dir(); parsed once per directory."""
    return _load_specs((directory or spec_dir()).resolve())


def specs() -> Specs:
    try:
        return load_specs()
    except SpecMissingError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


def operation_for(spec: ToolSpec, reference: Specs) -> Operation:
    route = spec.route
    operation = reference.find(route.host, route.method, route.path)
    if operation is None:
        pytest.fail(f"{spec.name}: {route.method} {route.path} is not an operation in the {route.host} spec")
    return operation


@cache
def _load_specs(directory: Path) -> Specs:
    documents: dict[str, dict[str, Any]] = {}
    operations: dict[str, dict[tuple[str, str], Operation]] = {}
    for host, name in SPEC_FILES.items():
        text = (directory / name).read_text(encoding="utf-8")
        documents[host] = json.loads(text) if name.endswith(".json") else load_yaml(text)
        operations[host] = index_operations(name, documents[host])
    sdk_gateway = {"servers": documents["llm_gateway"]["servers"], "paths": GATEWAY_SDK_PATHS}
    operations["llm_gateway"] = {
        **index_operations(GATEWAY_SDK_SOURCE, sdk_gateway),
        **operations["llm_gateway"],
    }
    documents["agents"] = AGENTS_SPEC
    operations["agents"] = index_operations(AGENTS_SOURCE, AGENTS_SPEC)
    for host, source, document in (("tts", TTS_SOURCE, TTS_SPEC), ("token", TOKEN_SOURCE, TOKEN_SPEC)):
        documents[host] = document
        operations[host] = index_operations(source, document)
    # The fields the official SDK (2026-10) sends that the 2026-03 specs lack: newer, so they win.
    sdk_fields = load_yaml((default_schema_dir() / SDK_FIELDS_FILE).read_text(encoding="utf-8"))
    return Specs(operations=apply_sdk_fields(operations, sdk_fields), documents=documents)


__all__ = [
    "CATALOG",
    "DOCUMENTED_AFTER_SPEC",
    "SPEC_DIR_ENV",
    "SPEC_FILES",
    "Operation",
    "SpecMissingError",
    "Specs",
    "accepted_types",
    "allowed_values",
    "alternatives",
    "deprecated_properties",
    "flatten",
    "json_type",
    "load_specs",
    "normalise_path",
    "operation_for",
    "placeholders",
    "resolve",
    "schema_problems",
    "spec_dir",
    "specs",
]
