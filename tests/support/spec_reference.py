"""The official AssemblyAI specs, loaded for the conformance tests (a helper, not a test module).

The specs live outside the repo, in shared/reference/assemblyai beside it (or AAI_MCP_SPEC_DIR).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from aai_mcp.catalog import ToolSpec
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

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


class SpecMissingError(RuntimeError):
    """The reference specs are not where the tests look for them."""


@dataclass(frozen=True)
class Operation:
    source: str
    """The spec file, for messages."""
    document: dict[str, Any]
    server: str
    method: str
    path: str
    """Full path, the server's base path included (llm-gateway's server ends in /v1)."""
    parameters: dict[tuple[str, str], dict[str, Any]]
    """(location, name) -> the OpenAPI parameter object, $ref resolved."""
    body_schema: dict[str, Any] | None
    """The JSON request body schema, $ref resolved and allOf flattened; None without a JSON body."""
    body_required: bool


@dataclass(frozen=True)
class Specs:
    operations: dict[str, dict[tuple[str, str], Operation]]
    """Host -> (METHOD, normalised path) -> operation."""
    documents: dict[str, dict[str, Any]]

    def find(self, host: str, method: str, path: str) -> Operation | None:
        return self.operations[host].get((method.upper(), normalise_path(path)))

    def serving(self, host: str, method: str, path: str) -> Operation | None:
        """The operation a concrete call goes to: like `find`, but a spec placeholder also takes a
        literal segment (ask_transcript's `.../vtt` is the spec's `.../{subtitle_format}`)."""
        found = self.find(host, method, path)
        if found is not None:
            return found
        wanted = normalise_path(path).split("/")
        for (spec_method, spec_path), operation in self.operations[host].items():
            segments = spec_path.split("/")
            if spec_method == method.upper() and len(segments) == len(wanted):
                if all(theirs in ("{}", ours) for theirs, ours in zip(segments, wanted, strict=True)):
                    return operation
        return None

    def validator(self, operation: Operation, schema: dict[str, Any]) -> Draft202012Validator:
        """A validator for `schema` whose local $refs resolve against the operation's spec file."""
        uri = _document_uri(operation.source)
        resource = Resource.from_contents(operation.document, default_specification=DRAFT202012)
        registry: Registry[Any] = Registry().with_resource(uri, resource)
        return Draft202012Validator(_absolute_refs(schema, uri), registry=registry)


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
        operations[host] = _index(name, documents[host])
    documents["agents"] = AGENTS_SPEC
    operations["agents"] = _index(AGENTS_SOURCE, AGENTS_SPEC)
    for host, source, document in (("tts", TTS_SOURCE, TTS_SPEC), ("token", TOKEN_SOURCE, TOKEN_SPEC)):
        documents[host] = document
        operations[host] = _index(source, document)
    return Specs(operations=operations, documents=documents)


def normalise_path(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def placeholders(path: str) -> list[str]:
    return re.findall(r"\{([^}]*)\}", path)


def _index(source: str, document: dict[str, Any]) -> dict[tuple[str, str], Operation]:
    server = document["servers"][0]["url"]
    base_path = urlsplit(server).path.rstrip("/")
    index: dict[tuple[str, str], Operation] = {}
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            if method in item:
                full_path = base_path + path
                operation = _operation(source, document, server, method, full_path, item[method], shared)
                index[(method.upper(), normalise_path(full_path))] = operation
    return index


def _operation(
    source: str,
    document: dict[str, Any],
    server: str,
    method: str,
    path: str,
    raw: dict[str, Any],
    shared: list[dict[str, Any]],
) -> Operation:
    parameters: dict[tuple[str, str], dict[str, Any]] = {}
    for parameter in [*shared, *raw.get("parameters", [])]:
        parameter = resolve(parameter, document)
        parameters[(parameter["in"], parameter["name"])] = parameter
    body = resolve(raw.get("requestBody", {}), document)
    json_body = body.get("content", {}).get("application/json")
    body_schema = flatten(json_body["schema"], document) if json_body else None
    return Operation(
        source=source,
        document=document,
        server=server,
        method=method.upper(),
        path=path,
        parameters=parameters,
        body_schema=body_schema,
        body_required=bool(body.get("required")),
    )


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Follow local $refs; sibling keywords (default, description) are kept on top."""
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        schema = {**target, **siblings}
    return schema


def flatten(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Merge allOf branches into one object schema (ENDPOINTS.md §6, Gotcha 1).

    TranscriptParams = allOf[{audio_url}, TranscriptOptionalParams] with additionalProperties:false
    on every branch and at the top, so as written no instance can satisfy it.
    """
    schema = resolve(schema, document)
    if "allOf" not in schema:
        return schema
    merged = {key: value for key, value in schema.items() if key != "allOf"}
    properties = dict(merged.get("properties", {}))
    required = list(merged.get("required", []))
    for part in schema["allOf"]:
        part = flatten(part, document)
        properties.update(part.get("properties", {}))
        required += [name for name in part.get("required", []) if name not in required]
    merged["properties"] = properties
    merged["required"] = required
    return merged


def alternatives(schema: dict[str, Any], document: dict[str, Any]) -> list[dict[str, Any]]:
    """The branches a value may match: anyOf/oneOf expanded, refs resolved, allOf flattened."""
    schema = flatten(schema, document)
    branches = schema.get("anyOf", []) + schema.get("oneOf", [])
    if not branches:
        return [schema]
    found: list[dict[str, Any]] = []
    for branch in branches:
        found += alternatives(branch, document)
    return found


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    for python_type, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, python_type):
            return name
    return "array" if isinstance(value, list) else "object"


def accepted_types(schema: dict[str, Any], document: dict[str, Any]) -> set[str] | None:
    """JSON types a spec schema accepts; None when it does not constrain the type."""
    types: set[str] = set()
    for branch in alternatives(schema, document):
        found = _branch_types(branch)
        if found is None:
            return None
        types |= found
    return types


def _branch_types(branch: dict[str, Any]) -> set[str] | None:
    if "const" in branch:
        return {json_type(branch["const"])}
    if "type" in branch:
        declared = branch["type"]
        types = {declared} if isinstance(declared, str) else set(declared)
        if branch.get("nullable"):  # OpenAPI 3.0
            types.add("null")
        return types
    if "enum" in branch:
        return {json_type(value) for value in branch["enum"]}
    if "properties" in branch:
        return {"object"}
    return None


def allowed_values(schema: dict[str, Any], document: dict[str, Any]) -> list[Any] | None:
    """The values a spec schema is limited to (enum/const, across branches); None when open."""
    values: list[Any] = []
    for branch in alternatives(schema, document):
        if "enum" in branch:
            values += branch["enum"]
        elif "const" in branch:
            values.append(branch["const"])
        elif branch.get("type") == "null":
            values.append(None)
        else:
            return None
    return values


def deprecated_properties(schema: dict[str, Any], document: dict[str, Any]) -> set[str]:
    return {
        name
        for name, sub in schema.get("properties", {}).items()
        if resolve(sub, document).get("deprecated") is True
    }


def schema_problems(
    tool: dict[str, Any], spec: dict[str, Any], document: dict[str, Any], where: str
) -> list[str]:
    """Ways a tool's parameter schema accepts values the spec's schema does not describe.

    Checked: types (integer fits number), enums (the tool's must be a subset, and present when
    the spec has one), numeric bounds, and recursively array items and object properties.
    """
    problems = _type_problems(tool, spec, document, where)
    problems += _enum_problems(tool, spec, document, where)
    branches = alternatives(spec, document)
    if len(branches) == 1:
        problems += _bound_problems(tool, branches[0], where)
        problems += _required_problems(tool, branches[0], where)
    if "items" in tool:
        spec_items = [branch["items"] for branch in branches if "items" in branch]
        if spec_items:
            problems += schema_problems(tool["items"], _union(spec_items), document, f"{where}[]")
    for name, sub in tool.get("properties", {}).items():
        candidates = [b["properties"][name] for b in branches if name in b.get("properties", {})]
        if candidates:
            problems += schema_problems(sub, _union(candidates), document, f"{where}.{name}")
        elif not any(_free_form(branch) for branch in branches):
            problems.append(f"{where}.{name}: not a property in the spec")
    return problems


def _type_problems(
    tool: dict[str, Any], spec: dict[str, Any], document: dict[str, Any], where: str
) -> list[str]:
    spec_types = accepted_types(spec, document)
    declared = tool.get("type")
    if spec_types is None or declared is None:
        return []
    tool_types = {declared} if isinstance(declared, str) else set(declared)
    if "number" in spec_types:
        spec_types = spec_types | {"integer"}
    extra = sorted(tool_types - spec_types)
    return [f"{where}: type {extra} not accepted by the spec ({sorted(spec_types)})"] if extra else []


def _enum_problems(
    tool: dict[str, Any], spec: dict[str, Any], document: dict[str, Any], where: str
) -> list[str]:
    spec_values = allowed_values(spec, document)
    if spec_values is None:
        return []
    tool_values = tool.get("enum", [tool["const"]] if "const" in tool else None)
    if tool_values is None:
        return [f"{where}: the spec limits values to {spec_values}, the tool has no enum"]
    extra = [value for value in tool_values if value not in spec_values]
    return [f"{where}: enum values {extra} are not in the spec's {spec_values}"] if extra else []


def _bound_problems(tool: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    problems = []
    if "minimum" in spec and tool.get("minimum", float("-inf")) < spec["minimum"]:
        problems.append(f"{where}: minimum {tool.get('minimum')} is below the spec's {spec['minimum']}")
    if "maximum" in spec and tool.get("maximum", float("inf")) > spec["maximum"]:
        problems.append(f"{where}: maximum {tool.get('maximum')} is above the spec's {spec['maximum']}")
    return problems


def _required_problems(tool: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    if "properties" not in tool:
        return []
    missing = [name for name in spec.get("required", []) if name not in tool.get("required", [])]
    return [f"{where}: the spec requires {missing}, the tool does not"] if missing else []


def _union(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}


def _free_form(branch: dict[str, Any]) -> bool:
    return "properties" not in branch and branch.get("additionalProperties") is not False


def _document_uri(source: str) -> str:
    return f"urn:aai-spec:{source.replace(' ', '-')}"


def _absolute_refs(schema: Any, uri: str) -> Any:
    if isinstance(schema, dict):
        return {
            key: f"{uri}{value}" if key == "$ref" and value.startswith("#") else _absolute_refs(value, uri)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_absolute_refs(item, uri) for item in schema]
    return schema
