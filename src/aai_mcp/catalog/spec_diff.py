"""The catalog compared with (newer) AssemblyAI specs: what `aai-mcp catalog diff` reports.

Per tool, for the request its parameters mirror: parameters upstream has that the tool lacks
(nested ones too, and enum values), parameters the tool exposes that upstream deprecated or does
not have, type and bound changes; then upstream operations no tool calls. A difference the
omissions list (tool_schemas/upstream/omissions.yaml) records is explained, with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from aai_mcp.catalog.loader import Catalog
from aai_mcp.catalog.model import ToolSpec
from aai_mcp.catalog.spec_schemas import alternatives, deprecated_properties, resolve, schema_problems
from aai_mcp.catalog.upstream_specs import SDK_SOURCE_KEY, Operation, Specs, normalise_path, placeholders

Kind = Literal["missing", "deprecated", "removed", "changed", "new endpoint"]
NOT_A_PROPERTY = ": not a property in the spec"


@dataclass(frozen=True)
class Difference:
    tool: str
    """The tool, or "" for an upstream operation no tool calls."""
    kind: Kind
    name: str
    """The parameter (dotted when nested), or the operation as `METHOD host:path`."""
    detail: str
    reason: str | None = None
    """Why it is deliberate, from the omissions list; None when unexplained."""


@dataclass(frozen=True)
class Omissions:
    """Deliberate differences: (tool, parameter) or an operation key -> why."""

    parameters: dict[tuple[str, str], str]
    endpoints: dict[str, str]

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Omissions:
        section = document["omissions"]
        parameters = {(row["tool"], row["parameter"]): row["reason"] for row in section.get("parameters", [])}
        endpoints = {row["endpoint"]: row["reason"] for row in section.get("endpoints", [])}
        return cls(parameters=parameters, endpoints=endpoints)


def catalog_differences(catalog: Catalog, specs: Specs, omissions: Omissions) -> list[Difference]:
    """Every difference for the hosts `specs` describe (a host no spec file covers is not judged)."""
    found: list[Difference] = []
    for spec in catalog.tools.values():
        if not spec.local and spec.route.host in specs.operations:
            found += _explained(tool_differences(spec, specs), omissions)
    for difference in uncalled_operations(catalog, specs):
        found.append(_with_reason(difference, omissions.endpoints.get(difference.name)))
    return found


def tool_differences(spec: ToolSpec, specs: Specs) -> list[Difference]:
    route = spec.route
    operation = specs.serving(route.host, route.method, route.path)
    if operation is None:
        shown = f"{route.method} {route.host}:{route.path}"
        return [Difference(spec.name, "removed", shown, "upstream no longer has this operation")]
    found: list[Difference] = []
    for location in ("path", "query"):
        theirs = {
            name: p.get("schema", {}) for (at, name), p in operation.parameters.items() if at == location
        }
        ours = getattr(spec.params, location)
        if location == "path":  # a placeholder is compared by position: the names may differ
            theirs = dict(
                zip(
                    placeholders(route.path),
                    [theirs.get(n, {}) for n in placeholders(operation.path)],
                    strict=False,
                )
            )
        found += _compare(spec, ours, theirs, operation, deprecated=set())
    body = operation.body_schema or {}
    deprecated = deprecated_properties(body, operation.document)
    found += _compare(spec, spec.params.body, body.get("properties", {}), operation, deprecated)
    return found


def _compare(
    spec: ToolSpec,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    operation: Operation,
    deprecated: set[str],
) -> list[Difference]:
    found: list[Difference] = []
    for name, upstream in theirs.items():
        if name in deprecated:
            if name in ours:
                found.append(Difference(spec.name, "deprecated", name, "upstream deprecated it"))
        elif name not in ours and name not in spec.refuse:
            found.append(Difference(spec.name, "missing", name, f"upstream has it{_source(upstream)}"))
    for name, param in ours.items():
        if name not in theirs:
            found.append(Difference(spec.name, "removed", name, "upstream does not have it"))
        elif name not in deprecated:
            found += _schema_differences(
                spec.name, name, param.json_schema(), theirs[name], operation.document
            )
    return found


def _schema_differences(
    tool: str, name: str, ours: dict[str, Any], theirs: dict[str, Any], document: dict[str, Any]
) -> list[Difference]:
    found = []
    for problem in schema_problems(ours, theirs, document, name):
        where, _, detail = problem.partition(": ")
        if problem.endswith(NOT_A_PROPERTY):
            found.append(Difference(tool, "removed", where, "upstream does not have it"))
        else:
            found.append(Difference(tool, "changed", where, detail))
    found += [
        Difference(tool, "missing", where, detail)
        for where, detail in _newer_upstream(ours, theirs, document, name)
    ]
    return found


def _newer_upstream(
    ours: dict[str, Any], theirs: dict[str, Any], document: dict[str, Any], where: str
) -> list[tuple[str, str]]:
    """What upstream accepts that the tool does not offer: nested properties and enum values."""
    found: list[tuple[str, str]] = []
    branches = alternatives(theirs, document)
    upstream_values = [value for branch in branches for value in branch.get("enum", [])]
    if "enum" in ours:
        extra = [value for value in upstream_values if value not in ours["enum"]]
        if extra:
            found.append((where, f"upstream also accepts {extra}"))
    if "items" in ours:
        for branch in branches:
            if "items" in branch:
                found += _newer_upstream(ours["items"], branch["items"], document, f"{where}[]")
    if "properties" in ours:
        for branch in branches:
            for name, sub in branch.get("properties", {}).items():
                if name in ours["properties"]:
                    found += _newer_upstream(ours["properties"][name], sub, document, f"{where}.{name}")
                elif not resolve(sub, document).get("deprecated"):
                    found.append((f"{where}.{name}", f"upstream has it{_source(sub)}"))
    return list(dict.fromkeys(found))


def uncalled_operations(catalog: Catalog, specs: Specs) -> list[Difference]:
    called = set()
    for spec in catalog.tools.values():
        for route in spec.upstream_calls:
            if route.host in specs.operations:
                operation = specs.serving(route.host, route.method, route.path)
                if operation is not None:
                    called.add((route.host, operation.method, normalise_path(operation.path)))
    return [
        Difference("", "new endpoint", f"{method} {host}:{operation.path}", f"in {operation.source}")
        for host, table in specs.operations.items()
        for (method, path), operation in table.items()
        if (host, method, path) not in called
    ]


def _explained(found: list[Difference], omissions: Omissions) -> list[Difference]:
    return [_with_reason(d, omissions.parameters.get((d.tool, d.name))) for d in found]


def _with_reason(difference: Difference, reason: str | None) -> Difference:
    return difference if reason is None else replace(difference, reason=reason)


def _source(schema: dict[str, Any]) -> str:
    sdk = schema.get(SDK_SOURCE_KEY)
    return f" (SDK {sdk})" if sdk else ""
