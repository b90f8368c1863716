"""AssemblyAI's OpenAPI specs indexed by operation: (host, METHOD, path) -> its parameters and body.

The same index serves `aai-mcp catalog diff` (specs given on the command line) and the conformance
tests (the reference copy beside the repo).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from aai_mcp.catalog.spec_schemas import flatten, resolve
from aai_mcp.catalog.yaml_loader import load_yaml
from aai_mcp.upstream.hosts import REGION_HOSTS

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


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


def normalise_path(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def placeholders(path: str) -> list[str]:
    return re.findall(r"\{([^}]*)\}", path)


def index_operations(source: str, document: dict[str, Any]) -> dict[tuple[str, str], Operation]:
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


# --- fields the official SDK sends that a spec lacks (or shapes differently) ---

SDK_FIELDS_FILE = "upstream/sdk-fields.yaml"
"""Relative to tool_schemas/: the SDK-sourced fields, each with the SDK file and line it comes from."""
SDK_SOURCE_KEY = "x-sdk"


def apply_sdk_fields(
    operations: dict[str, dict[tuple[str, str], Operation]], sdk_fields: dict[str, Any]
) -> dict[str, dict[tuple[str, str], Operation]]:
    """`operations` with each SDK-sourced field set in its operation's body (the newer source wins).

    A dotted name (`speaker_options.use_two_stage_clustering`) sets a nested property; under a
    oneOf/anyOf it adds one more way the value may look. Every set schema carries `x-sdk` (its
    file:line), so a report can say where a field comes from.
    """
    merged = {host: dict(table) for host, table in operations.items()}
    for entry in sdk_fields["sdk_fields"]["operations"]:
        host, method, path = entry["host"], entry["method"].upper(), entry["path"]
        table = merged.setdefault(host, {})
        key = (method, normalise_path(path))
        operation = table.get(key) or _sdk_only_operation(method, path)
        body = operation.body_schema or {"type": "object", "properties": {}}
        for name, field in entry.get("body", {}).items():
            schema = {**field["schema"], SDK_SOURCE_KEY: field["sdk"]}
            body = _with_field(body, name.split("."), schema, operation.document)
        table[key] = replace(operation, body_schema=body)
    return merged


def _sdk_only_operation(method: str, path: str) -> Operation:
    return Operation(
        source="the SDK fields list",
        document={},
        server="",
        method=method,
        path=path,
        parameters={},
        body_schema=None,
        body_required=True,
    )


def _with_field(
    schema: dict[str, Any], names: list[str], new: dict[str, Any], document: dict[str, Any]
) -> dict[str, Any]:
    schema = dict(flatten(schema, document))
    head, *rest = names
    properties = dict(schema.get("properties", {}))
    if rest:
        if head not in properties:
            raise ValueError(f"SDK field {'.'.join(names)}: {head!r} is not a property to extend")
        properties[head] = _with_field(properties[head], rest, new, document)
    elif "oneOf" in schema or "anyOf" in schema:
        keyword = "oneOf" if "oneOf" in schema else "anyOf"
        branch = {
            "type": "object",
            "additionalProperties": False,
            "required": [head],
            "properties": {head: new},
        }
        schema[keyword] = [*schema[keyword], branch]
        return schema
    else:
        properties[head] = new
    schema["properties"] = properties
    return schema


# --- spec files given on the command line ---


class SpecFileError(ValueError):
    """A spec file that cannot be read as OpenAPI or as an SDK fields list."""


def load_spec_files(paths: list[Path]) -> Specs:
    """OpenAPI files (JSON or YAML) indexed by the host their server names, then every SDK fields
    list applied over them. A server that is none of ours keeps its host name, so its operations
    show up as new endpoints."""
    documents: dict[str, dict[str, Any]] = {}
    operations: dict[str, dict[tuple[str, str], Operation]] = {}
    sdk_lists = []
    for path in paths:
        document = _read_spec(path)
        if "sdk_fields" in document:
            sdk_lists.append(document)
            continue
        host = host_of(document)
        documents[host] = document
        operations.setdefault(host, {}).update(index_operations(path.name, document))
    for sdk_fields in sdk_lists:
        operations = apply_sdk_fields(operations, sdk_fields)
    return Specs(operations=operations, documents=documents)


def host_of(document: dict[str, Any]) -> str:
    """The catalog's host name for the spec's first server (any region), else its netloc."""
    netloc: str = urlsplit(str(document["servers"][0]["url"])).netloc
    for hosts in REGION_HOSTS.values():
        for name, url in hosts.items():
            if urlsplit(url).netloc == netloc:
                return name
    return netloc


def _read_spec(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        # openapi.json, never openapi.yml, where YAML 1.1 readers turn `- no` (Norwegian) into False;
        # YAML goes through the project's strict loader, which does not.
        document = json.loads(text) if path.suffix == ".json" else load_yaml(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SpecFileError(f"{path}: cannot read it: {exc}") from exc
    if not isinstance(document, dict) or not ("sdk_fields" in document or "paths" in document):
        raise SpecFileError(f"{path}: neither an OpenAPI document (paths) nor an SDK fields list")
    if "paths" in document and not document.get("servers"):
        raise SpecFileError(f"{path}: an OpenAPI document without servers: which host is it?")
    return document
