"""Load and validate every file in tool_schemas/ once, at start-up; fail fast and say where."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from aai_mcp.catalog.keywords import unknown_keywords
from aai_mcp.catalog.model import Toolset, ToolSpec
from aai_mcp.catalog.yaml_loader import load_yaml

TOOLSETS_FILE = "toolsets.yaml"
OUTPUTS_FILE = "outputs.yaml"
PROMPTS_FILE = "prompts.yaml"
NOT_TOOL_FILES = (TOOLSETS_FILE, OUTPUTS_FILE, PROMPTS_FILE)


class CatalogError(ValueError):
    """A tool_schemas file is wrong; the message names the file and the entry."""


@dataclass(frozen=True)
class Catalog:
    tools: dict[str, ToolSpec]
    toolsets: dict[str, Toolset]
    outputs: dict[str, dict[str, Any]]
    sources: dict[str, str] = field(default_factory=dict)
    """Tool name -> the file it came from, for messages."""


def default_schema_dir() -> Path:
    """tool_schemas/ inside an installed wheel, else at the top of a source checkout."""
    packaged = Path(__file__).resolve().parent.parent / "tool_schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "tool_schemas"


def load_catalog(
    directory: Path,
    *,
    handlers: Mapping[str, Collection[str]],
    views: Collection[str],
    check_schemas: bool = True,
) -> Catalog:
    """Every tool file in `directory`. `handlers`: each code handler's name -> the names of the calls
    it makes, which its tools must declare exactly (so the YAML says what the code sends).
    `check_schemas=False` skips checking each schema against the JSON Schema metaschema (about 0.3 s
    of CPU, a quarter of what a start costs beyond the bare SDK's): only for the catalog shipped in
    the package, whose tests check it in full (tests/test_lean_start.py)."""
    check = Draft202012Validator.check_schema if check_schemas else _unchecked
    toolsets = _load_toolsets(directory / TOOLSETS_FILE)
    outputs = _load_outputs(directory / OUTPUTS_FILE, check)
    tools: dict[str, ToolSpec] = {}
    sources: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name in NOT_TOOL_FILES:
            continue
        for index, spec in enumerate(_load_tool_file(path)):
            where = f"{path.name}: entry {index} ({spec.name})"
            if spec.name in tools:
                raise CatalogError(f"{where}: duplicate tool name, first defined in {sources[spec.name]}")
            _check_references(spec, where, toolsets, outputs, handlers, views, check)
            tools[spec.name] = spec
            sources[spec.name] = path.name
    if not tools:
        raise CatalogError(f"{directory}: no tool definitions found")
    tools = _resolve_inheritance(tools, sources)
    for name, spec in tools.items():
        _check_uses(spec, f"{sources[name]}: tool {name}", tools)
    order = {name: index for index, name in enumerate(toolsets)}
    tools = dict(sorted(tools.items(), key=lambda item: order[item[1].toolset]))
    return Catalog(tools=tools, toolsets=toolsets, outputs=outputs, sources=sources)


def _resolve_inheritance(tools: dict[str, ToolSpec], sources: dict[str, str]) -> dict[str, ToolSpec]:
    resolved = dict(tools)
    for name, spec in tools.items():
        if spec.inherit is None:
            continue
        where = f"{sources[name]}: tool {name}"
        base = tools.get(spec.inherit.tool)
        if base is None or base.inherit is not None:
            raise CatalogError(
                f"{where}: inherit names {spec.inherit.tool!r}, which is not a plain tool here"
            )
        unknown = set(spec.inherit.optional) - set(base.params.body)
        if unknown:
            raise CatalogError(f"{where}: inherit.optional names unknown parameters {sorted(unknown)}")
        try:
            resolved[name] = spec.inheriting(base)
        except (ValueError, ValidationError) as exc:
            raise CatalogError(f"{where}: {exc}") from exc
    return resolved


def _check_uses(spec: ToolSpec, where: str, tools: dict[str, ToolSpec]) -> None:
    """A used tool exists and uses nothing itself (one level: the check stays one lookup deep)."""
    for use in spec.uses:
        used = tools.get(use.tool)
        if used is None or use.tool == spec.name:
            raise CatalogError(f"{where}: uses names {use.tool!r}, which is not another tool here")
        if used.uses:
            raise CatalogError(f"{where}: uses names {use.tool!r}, which itself uses other tools")
        unknown = sorted(set(use.when) - set(spec.all_params()))
        if unknown:
            raise CatalogError(f"{where}: uses {use.tool!r} when {unknown}, which are not its parameters")


def _read(path: Path) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"{path.name}: file is missing") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path.name}: not valid YAML: {exc}") from exc


def _mapping_section(path: Path, key: str) -> dict[str, Any]:
    data = _read(path)
    if not isinstance(data, dict) or set(data) != {key} or not isinstance(data[key], dict):
        raise CatalogError(f"{path.name}: expected exactly one top-level key {key!r} holding a mapping")
    section: dict[str, Any] = data[key]
    return section


def _load_toolsets(path: Path) -> dict[str, Toolset]:
    toolsets: dict[str, Toolset] = {}
    for name, entry in _mapping_section(path, "toolsets").items():
        try:
            toolsets[name] = Toolset.model_validate(entry)
        except ValidationError as exc:
            raise CatalogError(f"{path.name}: toolset {name!r}: {brief(exc)}") from exc
    return toolsets


def _unchecked(schema: Any) -> None:
    pass


def _load_outputs(path: Path, check: Callable[[Any], None]) -> dict[str, dict[str, Any]]:
    outputs = _mapping_section(path, "outputs")
    for name, schema in outputs.items():
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise CatalogError(f"{path.name}: output {name!r}: an output schema must be an object schema")
        try:
            check(schema)
        except SchemaError as exc:
            raise CatalogError(f"{path.name}: output {name!r}: invalid JSON Schema: {exc.message}") from exc
        _no_stray_keys(schema, f"{path.name}: output {name!r}")
    return outputs


def _no_stray_keys(schema: Any, where: str) -> None:
    stray = unknown_keywords(schema)
    if stray:
        raise CatalogError(
            f"{where}: not JSON Schema keywords (a typo, or a comma in a flow mapping?): "
            + "; ".join(stray[:5])
        )


def _load_tool_file(path: Path) -> list[ToolSpec]:
    data = _read(path)
    if not isinstance(data, dict) or set(data) != {"tools"} or not isinstance(data["tools"], list):
        raise CatalogError(f"{path.name}: expected exactly one top-level key 'tools' holding a list")
    specs = []
    for index, entry in enumerate(data["tools"]):
        name = entry.get("name", "?") if isinstance(entry, dict) else "?"
        try:
            specs.append(ToolSpec.model_validate(entry))
        except ValidationError as exc:
            raise CatalogError(f"{path.name}: entry {index} ({name}): {brief(exc)}") from exc
    return specs


def _check_references(
    spec: ToolSpec,
    where: str,
    toolsets: dict[str, Toolset],
    outputs: dict[str, dict[str, Any]],
    handlers: Mapping[str, Collection[str]],
    views: Collection[str],
    check: Callable[[Any], None],
) -> None:
    checks = [
        (spec.toolset in toolsets, f"unknown toolset {spec.toolset!r} (known: {sorted(toolsets)})"),
        (spec.output in outputs, f"unknown output schema {spec.output!r} (known: {sorted(outputs)})"),
        (spec.view in views, f"unknown view {spec.view!r} (known: {sorted(views)})"),
        (spec.handler is None or spec.handler in handlers, f"unknown handler {spec.handler!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise CatalogError(f"{where}: {message}")
    if spec.handler is not None:
        _check_calls(spec, where, set(handlers[spec.handler]))
    for name, param in spec.all_params().items():
        try:
            check(param.json_schema())
        except SchemaError as exc:
            raise CatalogError(f"{where}: parameter {name!r}: invalid JSON Schema: {exc.message}") from exc
        _no_stray_keys(param.json_schema(), f"{where}: parameter {name!r}")


def _check_calls(spec: ToolSpec, where: str, made: set[str]) -> None:
    declared = {call.name for call in spec.calls}
    if declared != made:
        raise CatalogError(
            f"{where}: handler {spec.handler!r} makes the calls {sorted(made)}, "
            f"but `calls` declares {sorted(declared)}"
        )


def brief(exc: ValidationError) -> str:
    """A validation error in one line: each failing location and its message."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(item) for item in error["loc"]) or "(entry)"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)
