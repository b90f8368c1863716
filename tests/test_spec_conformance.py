"""Every tool checked against AssemblyAI's official specs: route, parameters, types, request bodies."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import assemblyai
import pytest
import yaml

from aai_mcp.catalog import Param, ToolSpec, default_schema_dir, load_catalog
from aai_mcp.catalog.upstream_specs import SDK_FIELDS_FILE
from aai_mcp.catalog.yaml_loader import load_yaml
from aai_mcp.cli.catalog_diff import load_omissions
from aai_mcp.mcp_server.handlers.handler_table import HANDLER_CALLS
from aai_mcp.mcp_server.registry import input_schema
from aai_mcp.mcp_server.views.view_table import VIEWS
from aai_mcp.upstream.hosts import REGION_HOSTS
from tests.support.spec_reference import (
    CATALOG,
    DOCUMENTED_AFTER_SPEC,
    SPEC_DIR_ENV,
    SPEC_FILES,
    Operation,
    SpecMissingError,
    Specs,
    deprecated_properties,
    load_specs,
    normalise_path,
    operation_for,
    placeholders,
    schema_problems,
    spec_dir,
    specs,
)

# Hosts no bundled OpenAPI spec covers: their calls follow the official SDK, and
# tests/test_sdk_conformance.py checks them against the SDK's own paths and request models.
SDK_SOURCED_HOSTS = frozenset({"sync", "dictation"})
# Local tools (the API reference) make no upstream request: no spec to conform to.
TOOL_NAMES = sorted(
    name
    for name, spec in CATALOG.tools.items()
    if not spec.local and spec.route.host not in SDK_SOURCED_HOSTS
)

# Spec parameters a tool deliberately does not offer: the catalog's omissions list, which
# `aai-mcp catalog diff` reads too (its entries for parameters a tool adds are DOCUMENTED_AFTER_SPEC).
NOT_EXPOSED: dict[tuple[str, str], str] = {
    **{
        key: reason for key, reason in load_omissions().parameters.items() if key not in DOCUMENTED_AFTER_SPEC
    },
    # The TTS spec is the tests' own (tests/support/speech_spec.py), outside `catalog diff`.
    ("text_to_speech", "stream"): "One tool result holds the whole clip: the handler always asks for a "
    "buffered answer (stream: false), the only kind that states its duration.",
}
# Spec-required parameters a handler fills from settings when the caller leaves them out.
HANDLER_FILLS: dict[tuple[str, str], str] = {
    ("ask_transcript", "model"): "settings.llm_default_model, which no static default can state.",
    ("extract_from_transcript", "model"): "settings.llm_default_model, as ask_transcript.",
}
# ENDPOINTS.md §6: the TranscriptParams fields the spec marks `deprecated: true`.
DEPRECATED_TRANSCRIPT_PARAMS = {
    "auto_chapters",
    "summarization",
    "summary_model",
    "summary_type",
    "custom_topics",
    "topics",
    "speech_model",
}


# --- the checks, as functions, so the tests below can also prove they catch breakage ---


def route_problems(spec: ToolSpec, reference: Specs) -> list[str]:
    """Every upstream call the tool declares (a handler tool's too) is an operation of its host."""
    problems = []
    for route in spec.upstream_calls:
        if route.host in SDK_SOURCED_HOSTS:
            continue
        operation = reference.serving(route.host, route.method, route.path)
        if operation is None:
            problems.append(
                f"{spec.name}: {route.method} {route.path} is not an operation in the {route.host} spec"
            )
            continue
        if urlsplit(operation.server).netloc != urlsplit(REGION_HOSTS["us"][route.host]).netloc:
            problems.append(
                f"{spec.name}: the spec serves it from {operation.server}, not the {route.host} host"
            )
        if len(operation.path.split("/")) != len(route.path.split("/")):
            problems.append(f"{spec.name}: path {route.path} does not match {operation.path}")
    return problems


def path_renames(spec: ToolSpec, operation: Operation) -> dict[str, str]:
    """Tool placeholder name -> the spec's name at the same position (they may differ)."""
    return dict(zip(placeholders(spec.route.path), placeholders(operation.path), strict=True))


def tool_param(spec: ToolSpec, operation: Operation, location: str, spec_name: str) -> Param | None:
    if location == "path":
        ours = {theirs: ours for ours, theirs in path_renames(spec, operation).items()}
        spec_name = ours.get(spec_name, spec_name)
    locations: dict[str, dict[str, Param]] = {str(k): v for k, v in spec.params.by_location().items()}
    return locations.get(location, {}).get(spec_name)


def parameter_problems(spec: ToolSpec, reference: Specs) -> list[str]:
    operation = operation_for(spec, reference)
    document = operation.document
    renames = path_renames(spec, operation)
    problems: list[str] = []
    for location in ("path", "query"):
        for name, param in getattr(spec.params, location).items():
            where = f"{spec.name}: {location} parameter {name!r}"
            spec_name = renames.get(name, name) if location == "path" else name
            spec_param = operation.parameters.get((location, spec_name))
            if spec_param is None:
                problems.append(f"{where} is not in {operation.source} {operation.method} {operation.path}")
                continue
            problems += schema_problems(param.json_schema(), spec_param.get("schema", {}), document, where)
            problems += _serialization_problems(param.serialize, param.type, spec_param, where)
    return problems


def _serialization_problems(
    serialize: str, declared: Any, spec_param: dict[str, Any], where: str
) -> list[str]:
    if declared != "array" and "array" not in declared:
        return []
    # The gateway sends arrays in a query string comma-joined only; the spec must expect exactly that.
    comma = spec_param.get("style", "form") == "form" and spec_param.get("explode") is False
    return [] if comma and serialize == "comma" else [f"{where}: array serialization does not match the spec"]


def body_problems(spec: ToolSpec, reference: Specs) -> list[str]:
    operation = operation_for(spec, reference)
    document = operation.document
    if not spec.params.body:
        return []
    if operation.body_schema is None:
        return [f"{spec.name}: has body parameters but {operation.path} takes no JSON body"]
    problems: list[str] = []
    spec_properties = operation.body_schema.get("properties", {})
    for name, param in spec.params.body.items():
        where = f"{spec.name}: body parameter {name!r}"
        if name not in spec_properties:
            if (spec.name, name) not in DOCUMENTED_AFTER_SPEC:
                problems.append(f"{where} is not in {operation.source} {operation.method} {operation.path}")
            continue
        problems += schema_problems(param.json_schema(), spec_properties[name], document, where)
    return problems


def required_problems(spec: ToolSpec, reference: Specs) -> list[str]:
    operation = operation_for(spec, reference)
    required = [key for key, parameter in operation.parameters.items() if parameter.get("required")]
    if operation.body_schema is not None:
        required += [("body", name) for name in operation.body_schema.get("required", [])]
    problems = []
    for location, name in required:
        if spec.handler and spec.inherit and name in spec.inherit.optional:
            continue  # the handler supplies it (transcribe: audio_url comes from the upload)
        if spec.handler and (spec.name, name) in HANDLER_FILLS:
            continue
        param = tool_param(spec, operation, location, name)
        if param is None or not (param.required or param.apply_default):
            problems.append(
                f"{spec.name}: the spec requires {location} parameter {name!r}; the tool does not"
            )
    return problems


def exposure_problems(spec: ToolSpec, reference: Specs) -> list[str]:
    operation = operation_for(spec, reference)
    document = operation.document
    offered = [(location, name) for location, name in operation.parameters if location in ("path", "query")]
    deprecated: set[str] = set()
    if operation.body_schema is not None:
        deprecated = deprecated_properties(operation.body_schema, document)
        offered += [("body", name) for name in operation.body_schema.get("properties", {})]
    problems = []
    for location, name in offered:
        exposed = tool_param(spec, operation, location, name) is not None
        if name in deprecated:
            if exposed or name not in spec.refuse:
                problems.append(f"{spec.name}: deprecated {name!r} must be refused (refuse map), not exposed")
        elif not exposed and (spec.name, name) not in NOT_EXPOSED:
            problems.append(f"{spec.name}: spec {location} parameter {name!r} is not exposed")
    return problems


def option_problems(spec: ToolSpec, reference: Specs) -> list[str]:
    operation = operation_for(spec, reference)
    spec_names = {name for _, name in operation.parameters}
    if operation.body_schema is not None:
        spec_names |= set(operation.body_schema.get("properties", {}))
    shadowing = sorted(set(spec.params.options) & spec_names)
    return [f"{spec.name}: gateway options {shadowing} shadow upstream parameters"] if shadowing else []


def all_problems(spec: ToolSpec, reference: Specs) -> list[str]:
    problems = route_problems(spec, reference)
    if problems:
        return problems
    for check in (parameter_problems, body_problems, required_problems, exposure_problems, option_problems):
        problems += check(spec, reference)
    return problems


# --- per tool ---


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_route_is_a_spec_operation(name: str) -> None:
    assert route_problems(CATALOG.tools[name], specs()) == []


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_path_and_query_parameters_match_the_spec(name: str) -> None:
    assert parameter_problems(CATALOG.tools[name], specs()) == []


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_body_parameters_match_the_spec(name: str) -> None:
    assert body_problems(CATALOG.tools[name], specs()) == []


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_spec_required_parameters_are_required(name: str) -> None:
    assert required_problems(CATALOG.tools[name], specs()) == []


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_spec_parameters_are_exposed_or_refused(name: str) -> None:
    assert exposure_problems(CATALOG.tools[name], specs()) == []


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_gateway_options_do_not_shadow_spec_parameters(name: str) -> None:
    assert option_problems(CATALOG.tools[name], specs()) == []


def test_every_spec_operation_has_a_tool() -> None:
    # A handler tool's secondary calls count: understand_transcript's dry run serves validate.
    routes = [spec.route for spec in CATALOG.tools.values() if not spec.local]
    routes += [call for spec in CATALOG.tools.values() if spec.handler for call in spec.upstream_calls]
    covered = {(route.host, route.method, normalise_path(route.path)) for route in routes}
    missing = [
        f"{operation.source}: {method} {operation.path}"
        for host, operations in specs().operations.items()
        for (method, path), operation in operations.items()
        if (host, method, path) not in covered
    ]
    assert missing == []


def test_allow_lists_are_still_needed() -> None:
    reference = specs()
    for tool, name in DOCUMENTED_AFTER_SPEC:
        spec = CATALOG.tools[tool]
        assert name in spec.params.body, f"{tool}.{name}: allow-listed but no longer a body parameter"
        body = operation_for(spec, reference).body_schema or {}
        assert name not in body.get("properties", {}), (
            f"{tool}.{name}: now in the spec; drop it from the list"
        )
    for tool, name in NOT_EXPOSED:
        spec = CATALOG.tools[tool]
        assert name not in spec.all_params(), f"{tool}.{name}: listed as not exposed, but it is"
    for tool, name in HANDLER_FILLS:
        spec = CATALOG.tools[tool]
        assert spec.handler, f"{tool}.{name}: only a handler can fill a parameter"
        assert not spec.all_params()[name].required, f"{tool}.{name}: required now; drop it from the list"


def test_deprecated_transcript_params_are_refused_not_exposed() -> None:
    spec = CATALOG.tools["create_transcript"]
    operation = operation_for(spec, specs())
    deprecated = deprecated_properties(operation.body_schema or {}, operation.document)
    assert deprecated == DEPRECATED_TRANSCRIPT_PARAMS
    assert not deprecated & set(spec.all_params())
    assert deprecated <= set(spec.refuse)


def test_every_current_transcript_param_is_exposed() -> None:
    spec = CATALOG.tools["create_transcript"]
    operation = operation_for(spec, specs())
    body = operation.body_schema or {}
    current = set(body["properties"]) - deprecated_properties(body, operation.document)
    assert len(current) > 35, "flattening lost TranscriptOptionalParams"
    assert sorted(current - set(spec.params.body)) == []
    # Listed one by one, or folded into `options` (named there; each validated by its own schema:
    # tests/test_folded_options.py).
    assert sorted(current - set(input_schema(spec)["properties"]) - set(spec.folded)) == []


# --- the fields the official SDK sends (tool_schemas/upstream/sdk-fields.yaml) ---

SDK_FIELDS = load_yaml((default_schema_dir() / SDK_FIELDS_FILE).read_text(encoding="utf-8"))["sdk_fields"]
SDK_PACKAGE = Path(assemblyai.__file__).resolve().parent
SDK_ENTRIES = [
    (entry["method"], entry["path"], name, field)
    for entry in SDK_FIELDS["operations"]
    for name, field in entry.get("body", {}).items()
]


def tools_calling(method: str, path: str) -> list[ToolSpec]:
    return [
        spec
        for spec in CATALOG.tools.values()
        if not spec.local and (spec.route.method, spec.route.path) == (method, path)
    ]


@pytest.mark.parametrize(("method", "path", "name", "field"), SDK_ENTRIES, ids=[e[2] for e in SDK_ENTRIES])
def test_every_sdk_field_is_a_tool_parameter(
    method: str, path: str, name: str, field: dict[str, Any]
) -> None:
    tools = tools_calling(method, path)
    assert tools, f"no tool calls {method} {path}"
    for spec in tools:  # create_transcript, and transcribe through inherit
        schema: dict[str, Any] = {"properties": {n: p.json_schema() for n, p in spec.params.body.items()}}
        for part in name.split("."):
            assert part in schema.get("properties", {}), f"{spec.name}: SDK field {name} is not a parameter"
            schema = schema["properties"][part]


@pytest.mark.parametrize(("method", "path", "name", "field"), SDK_ENTRIES, ids=[e[2] for e in SDK_ENTRIES])
def test_every_sdk_field_cites_a_line_that_names_it(
    method: str, path: str, name: str, field: dict[str, Any]
) -> None:
    # "types.py:830-836 (...), types.py:1111": the field's own name is on one of the cited lines.
    leaf = name.split(".")[-1]
    cited = re.findall(r"(\w+(?:/\w+)*\.py):(\d+)(?:-(\d+))?", field["sdk"])
    assert cited, f"{name}: sdk {field['sdk']!r} cites no file:line"
    found = []
    for file, first, last in cited:
        lines = (SDK_PACKAGE / file).read_text(encoding="utf-8").splitlines()
        found += lines[int(first) - 1 : int(last or first)]
    assert any(re.search(rf"\b{leaf}\b", line) for line in found), f"{name}: not on {field['sdk']}"


def test_sdk_fields_come_from_the_installed_sdk_version() -> None:
    assert SDK_FIELDS["source"].startswith(f"assemblyai {assemblyai.__version__} ")


# --- the checks catch breakage, and a missing spec fails rather than skips ---


@pytest.mark.parametrize("name", [name for name in SPEC_FILES.values() if name.endswith(".yml")])
def test_yaml_specs_have_no_yaml11_traps(name: str) -> None:
    # PyYAML's YAML 1.1 reading (`no` -> False) agrees with the strict loader: nothing was mangled.
    text = (spec_dir() / name).read_text(encoding="utf-8")
    assert yaml.safe_load(text) == load_yaml(text)


def test_openapi_json_keeps_norwegian() -> None:
    languages = specs().documents["api"]["components"]["schemas"]["TranscriptLanguageCode"]["enum"]
    assert "no" in languages and False not in languages


def test_missing_spec_dir_fails_with_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SPEC_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(SpecMissingError, match=SPEC_DIR_ENV):
        spec_dir()


def _spec_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "specs"
    directory.mkdir()
    for name in SPEC_FILES.values():
        shutil.copyfile(spec_dir() / name, directory / name)
    monkeypatch.setenv(SPEC_DIR_ENV, str(directory))
    assert spec_dir() == directory
    return directory


def test_checks_catch_parameters_removed_from_the_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = _spec_copy(tmp_path, monkeypatch)
    openapi = json.loads((directory / "openapi.json").read_text(encoding="utf-8"))
    del openapi["components"]["schemas"]["TranscriptOptionalParams"]["properties"]["webhook_url"]
    subtitles = openapi["paths"]["/v2/transcript/{transcript_id}/{subtitle_format}"]["get"]
    subtitles["parameters"] = [p for p in subtitles["parameters"] if p["name"] != "chars_per_caption"]
    (directory / "openapi.json").write_text(json.dumps(openapi), encoding="utf-8")
    reference = load_specs(directory)
    assert any(
        "'webhook_url' is not in" in p for p in all_problems(CATALOG.tools["create_transcript"], reference)
    )
    assert any(
        "'chars_per_caption' is not in" in p for p in all_problems(CATALOG.tools["get_subtitles"], reference)
    )


def test_path_placeholder_names_may_differ_from_the_spec() -> None:
    data = CATALOG.tools["get_sentences"].model_dump(by_alias=True, exclude_none=True)
    data["path"] = "/v2/transcript/{id}/sentences"
    data["params"]["path"] = {"id": data["params"]["path"].pop("transcript_id")}
    assert all_problems(ToolSpec.model_validate(data), specs()) == []


MUTATIONS = [
    # (file, text, replacement, tool, expected problem)
    (
        "transcripts.yaml",
        "      body:\n        audio_url:",
        "      body:\n        bogus_flag:\n"
        "          type: boolean\n          description: Not an AssemblyAI parameter.\n        audio_url:",
        "create_transcript",
        "'bogus_flag' is not in",
    ),
    (
        "transcripts.yaml",
        "enum: [entity_name, hash]",
        "enum: [entity_name, hash, mask]",
        "create_transcript",
        "['mask'] are not in",
    ),
    (
        "transcripts.yaml",
        "          maximum: 200\n",
        "          maximum: 500\n",
        "list_transcripts",
        "above the spec",
    ),
    (
        "transcripts.yaml",
        "        throttled_only:\n          type: boolean",
        "        throttled_only:\n          type: string",
        "list_transcripts",
        "type ['string'] not accepted",
    ),
    (
        "llm.yaml",
        "              tool_call_id: {type: string}",
        "              tool_call: {type: string}",
        "llm_chat_completion",
        "[].tool_call: not a property",
    ),
    (
        "transcripts.yaml",
        "enum: [standard, experimental]",
        "enum: [standard, experimental, fast]",
        "create_transcript",
        "['fast'] are not in",
    ),
    (
        "transcripts.yaml",
        "headline_length: {type: integer, minimum: 5, maximum: 15}",
        "headline_length: {type: integer, minimum: 5, maximum: 50}",
        "create_transcript",
        "maximum 50 is above the spec's 15",
    ),
    ("realtime.yaml", "path: /v3/token", "path: /v3/tokens", "create_streaming_token", "not an operation"),
]


@pytest.mark.parametrize(("file", "text", "replacement", "tool", "expected"), MUTATIONS)
def test_checks_catch_a_tool_that_drifts_from_the_spec(
    tmp_path: Path, file: str, text: str, replacement: str, tool: str, expected: str
) -> None:
    shutil.copytree(default_schema_dir(), tmp_path, dirs_exist_ok=True)
    source = (tmp_path / file).read_text(encoding="utf-8")
    assert text in source, f"mutation target {text!r} is gone from {file}; update this test"
    (tmp_path / file).write_text(source.replace(text, replacement, 1), encoding="utf-8")
    catalog = load_catalog(tmp_path, handlers=HANDLER_CALLS, views=VIEWS.keys())
    problems = all_problems(catalog.tools[tool], specs())
    assert any(expected in problem for problem in problems), problems
