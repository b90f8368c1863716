"""Catalog loading fails fast and says where; whole-catalog rules hold for the real tool_schemas/."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from aai_mcp.catalog import Catalog, CatalogError, ToolSpec, default_schema_dir, load_catalog
from aai_mcp.catalog.keywords import unknown_keywords
from aai_mcp.catalog.loader import OUTPUTS_FILE, TOOLSETS_FILE
from aai_mcp.gateway import load_default_catalog
from aai_mcp.mcp_server.handlers.handler_table import HANDLER_CALLS
from aai_mcp.mcp_server.registry import input_schema, tool_definition
from aai_mcp.mcp_server.views.view_table import VIEWS

CATALOG = load_default_catalog()
PROBE_FILE = "probe.yaml"
PROBE: dict[str, Any] = {
    "name": "probe_tool",
    "title": "Probe tool",
    "toolset": "transcripts",
    "method": "GET",
    "host": "api",
    "path": "/v2/transcript/{transcript_id}",
    "response": "json",
    "output": "transcript",
    "view": "raw",
    "description": "A tool that only exists in these loader tests; call get_transcript next.",
    "annotations": {
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": True,
    },
    "effects": ["read"],
    "params": {"path": {"transcript_id": {"type": "string", "required": True, "description": "The id."}}},
}
# The same entry as YAML text, for what a dumped dict cannot show (duplicate keys, bare `no`).
PROBE_TEXT = """\
tools:
  - name: probe_tool
    title: Probe tool
    toolset: transcripts
    method: GET
    host: api
    path: /v2/transcript/{transcript_id}
    response: json
    output: transcript
    view: raw
    description: A tool that only exists in these loader tests; call get_transcript next.
    annotations: {readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true}
    effects: [read]
    params:
      path:
        transcript_id: {type: string, required: true, description: The id.}
      query:
        flavour: {type: string, enum: [yes, no, on, off, y, n], description: A YAML 1.1 trap.}
"""


def probe(**changes: Any) -> dict[str, Any]:
    """PROBE with top-level keys replaced; a value of None removes the key."""
    entry = copy.deepcopy(PROBE)
    for key, value in changes.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    return entry


def tools_yaml(*entries: dict[str, Any]) -> str:
    return yaml.safe_dump({"tools": list(entries)}, sort_keys=False)


def load_dir(directory: Path) -> Catalog:
    return load_catalog(directory, handlers=HANDLER_CALLS, views=VIEWS.keys())


def catalog_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    for name in (TOOLSETS_FILE, OUTPUTS_FILE):
        shutil.copyfile(default_schema_dir() / name, tmp_path / name)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def load_error(tmp_path: Path, files: dict[str, str]) -> str:
    with pytest.raises(CatalogError) as info:
        load_dir(catalog_dir(tmp_path, files))
    return str(info.value)


def assert_names(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} missing from: {message}"


ENTRY = f"{PROBE_FILE}: entry 0 (probe_tool)"


def test_probe_entry_loads(tmp_path: Path) -> None:
    catalog = load_dir(catalog_dir(tmp_path, {PROBE_FILE: tools_yaml(probe())}))
    assert list(catalog.tools) == ["probe_tool"]
    assert catalog.sources == {"probe_tool": PROBE_FILE}


def test_unknown_key_in_an_entry(tmp_path: Path) -> None:
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(read_only=True))})
    assert_names(message, ENTRY, "read_only", "Extra inputs are not permitted")


def test_unknown_key_in_a_param(tmp_path: Path) -> None:
    params = {
        "path": {"transcript_id": {"type": "string", "required": True, "description": "x", "optional": 1}}
    }
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(params=params))})
    assert_names(message, ENTRY, "params.path.transcript_id.optional", "Extra inputs are not permitted")


def test_duplicate_tool_name_in_one_file(tmp_path: Path) -> None:
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(), probe())})
    assert_names(
        message,
        f"{PROBE_FILE}: entry 1 (probe_tool)",
        "duplicate tool name",
        f"first defined in {PROBE_FILE}",
    )


def test_duplicate_tool_name_across_files(tmp_path: Path) -> None:
    message = load_error(tmp_path, {"a.yaml": tools_yaml(probe()), "b.yaml": tools_yaml(probe())})
    assert_names(message, "b.yaml: entry 0 (probe_tool)", "duplicate tool name", "first defined in a.yaml")


def test_duplicate_of_a_real_tool(tmp_path: Path) -> None:
    shutil.copytree(default_schema_dir(), tmp_path, dirs_exist_ok=True)
    message = load_error(tmp_path, {"zz_extra.yaml": tools_yaml(probe(name="get_transcript"))})
    assert_names(message, "zz_extra.yaml: entry 0 (get_transcript)", "first defined in transcripts.yaml")


def test_duplicate_parameter_in_one_location(tmp_path: Path) -> None:
    text = PROBE_TEXT.replace(
        "        transcript_id: {type: string, required: true, description: The id.}\n",
        "        transcript_id: {type: string, required: true, description: The id.}\n" * 2,
    )
    message = load_error(tmp_path, {PROBE_FILE: text})
    assert_names(message, PROBE_FILE, "duplicate key 'transcript_id'", "line 17")


def test_duplicate_parameter_across_locations(tmp_path: Path) -> None:
    params = copy.deepcopy(PROBE["params"])
    params["query"] = {"transcript_id": {"type": "string", "description": "Again."}}
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(params=params))})
    assert_names(message, ENTRY, "'transcript_id' appears in both path and query")


def test_name_over_64_characters(tmp_path: Path) -> None:
    name = "a" * 65
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(name=name))})
    assert_names(message, f"{PROBE_FILE}: entry 0 ({name})", "65 characters; the limit is 64")


@pytest.mark.parametrize("name", ["ProbeTool", "probe-tool", "probe tool", "_probe", "9probe"])
def test_name_not_snake_case(tmp_path: Path, name: str) -> None:
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(name=name))})
    assert_names(message, f"{PROBE_FILE}: entry 0 ({name})", "name: String should match pattern")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("toolset", "nope", "unknown toolset 'nope'"),
        ("output", "nope", "unknown output schema 'nope'"),
        ("view", "nope", "unknown view 'nope'"),
    ],
)
def test_unknown_reference(tmp_path: Path, key: str, value: str, expected: str) -> None:
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(**{key: value}))})
    assert_names(message, ENTRY, expected)


READ_CALL = {"name": "read", "method": "GET", "host": "api", "path": "/v2/transcript/{transcript_id}"}


def handler_probe(handler: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    return probe(handler=handler, calls=calls, method=None, host=None, path=None)


def test_unknown_handler(tmp_path: Path) -> None:
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(handler_probe("nope", [READ_CALL]))})
    assert_names(message, ENTRY, "unknown handler 'nope'")


def test_a_handler_tool_with_the_calls_its_handler_makes_loads(tmp_path: Path) -> None:
    catalog = load_dir(catalog_dir(tmp_path, {PROBE_FILE: tools_yaml(handler_probe("fetch", [READ_CALL]))}))
    spec = catalog.tools["probe_tool"]
    assert spec.call("read").shown() == "GET api:/v2/transcript/{transcript_id}"
    assert spec.route == spec.call("read") and spec.upstream_calls == [spec.call("read")]


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        ([READ_CALL, {**READ_CALL, "name": "list", "path": "/v2/transcript"}], "declares ['list', 'read']"),
        ([{**READ_CALL, "name": "get"}], "makes the calls ['read'], but `calls` declares ['get']"),
    ],
)
def test_a_handler_tool_declares_exactly_the_calls_its_handler_makes(
    tmp_path: Path, calls: list[dict[str, Any]], expected: str
) -> None:
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(handler_probe("fetch", calls))})
    assert_names(message, ENTRY, expected)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"handler": "fetch"}, "a handler tool declares every upstream request it makes in `calls`"),
        ({"handler": "fetch", "calls": [READ_CALL]}, "not a single method, host and path"),
        ({"calls": [READ_CALL]}, "a plain tool declares method, host and path, and no calls"),
        ({"path": None}, "a plain tool declares method, host and path"),
        (
            {"handler": "fetch", "method": None, "host": None, "path": None, "calls": [READ_CALL, READ_CALL]},
            "name a call twice",
        ),
        # A local tool (answered from the package) names a handler and no upstream request at all.
        ({"local": True}, "a local tool names a handler and declares no calls, method, host or path"),
        (
            {
                "local": True,
                "handler": "search_reference",
                "method": None,
                "host": None,
                "path": None,
                "calls": [READ_CALL],
            },
            "a local tool names a handler and declares no calls",
        ),
        (
            {"local": True, "handler": "search_reference", "method": None, "host": None, "path": None},
            "path '' names [] but path params are ['transcript_id']",
        ),
    ],
)
def test_plain_tools_have_one_route_and_handler_tools_a_calls_list(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(**changes))})
    assert_names(message, ENTRY, expected)


def test_a_local_tool_has_no_route_and_no_upstream_calls() -> None:
    spec = CATALOG.tools["search_api_reference"]
    assert spec.local and spec.upstream_calls == [] and not spec.calls_only_later
    with pytest.raises(ValueError, match="is local: it makes no upstream request"):
        spec.route  # noqa: B018 - the property raising is what is tested


def test_path_placeholder_without_a_path_param(tmp_path: Path) -> None:
    message = load_error(
        tmp_path, {PROBE_FILE: tools_yaml(probe(path="/v2/transcript/{transcript_id}/{fmt}"))}
    )
    assert_names(message, ENTRY, "names ['fmt', 'transcript_id'] but path params are ['transcript_id']")


def test_optional_path_param(tmp_path: Path) -> None:
    params = {"path": {"transcript_id": {"type": "string", "description": "The id."}}}
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(params=params))})
    assert_names(message, ENTRY, "path params ['transcript_id'] must be required")


@pytest.mark.parametrize("hint", ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"])
def test_every_annotation_hint_is_required(tmp_path: Path, hint: str) -> None:
    annotations = {key: value for key, value in PROBE["annotations"].items() if key != hint}
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(annotations=annotations))})
    assert_names(message, ENTRY, f"annotations.{hint}: Field required")


@pytest.mark.parametrize(
    ("effects", "expected"),
    [
        (None, "effects: Field required"),
        ([], "effects: List should have at least 1 item"),
        (["read", "custom"], "effects.1: Input should be 'read', 'transcription'"),
        (["read", "read"], "name an effect twice"),
    ],
)
def test_effects_are_required_known_and_distinct(tmp_path: Path, effects: Any, expected: str) -> None:
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(effects=effects))})
    assert_names(message, ENTRY, expected)


@pytest.mark.parametrize(
    ("uses", "expected"),
    [
        ([{"tool": "nope"}], "uses names 'nope', which is not another tool here"),
        ([{"tool": "probe_tool"}], "uses names 'probe_tool', which is not another tool here"),
        ([{"tool": "transcribe"}], "uses names 'transcribe', which itself uses other tools"),
        ([{"tool": "upload_file", "when": ["path"]}], "uses 'upload_file' when ['path']"),
        ([{"tool": "upload_file", "if": ["x"]}], "uses.0.if: Extra inputs are not permitted"),
    ],
)
def test_uses_name_other_tools_and_own_parameters(tmp_path: Path, uses: Any, expected: str) -> None:
    shutil.copytree(default_schema_dir(), tmp_path, dirs_exist_ok=True)
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(uses=uses))})
    assert expected in message, message


def test_missing_annotations(tmp_path: Path) -> None:
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(annotations=None))})
    assert_names(message, ENTRY, "annotations: Field required")


@pytest.mark.parametrize(
    "param",
    [
        {"type": "array", "items": {"type": "strng"}, "description": "Bad item type."},
        {"type": "string", "minLength": -1, "description": "Negative length."},
    ],
)
def test_invalid_json_schema_in_a_param(tmp_path: Path, param: dict[str, Any]) -> None:
    params = {**PROBE["params"], "query": {"bad": param}}
    message = load_error(tmp_path, {PROBE_FILE: tools_yaml(probe(params=params))})
    assert_names(message, ENTRY, "parameter 'bad': invalid JSON Schema")


def test_bare_no_in_an_enum_stays_a_string(tmp_path: Path) -> None:
    catalog = load_dir(catalog_dir(tmp_path, {PROBE_FILE: PROBE_TEXT}))
    spec = catalog.tools["probe_tool"]
    assert spec.params.query["flavour"].enum == ["yes", "no", "on", "off", "y", "n"]
    assert spec.params.path["transcript_id"].required is True


def test_real_language_enum_keeps_norwegian() -> None:
    language_codes = CATALOG.tools["create_transcript"].params.body["language_codes"]
    assert language_codes.items is not None
    assert "no" in language_codes.items["enum"]
    assert all(isinstance(code, str) for code in language_codes.items["enum"])


# --- whole-catalog rules on the real catalog ---

EXPECTED_TOOLS = {
    "transcripts": [
        "create_transcript",
        "get_transcript",
        "list_transcripts",
        "delete_transcript",
        "get_sentences",
        "get_paragraphs",
        "get_subtitles",
        "search_words",
        "get_redacted_audio",
    ],
    "uploads": ["upload_file"],
    "llm": ["llm_chat_completion", "understand_transcript"],
    "realtime": ["create_streaming_token", "create_voice_agent_token"],
}
TOKEN_TOOLS = {"create_streaming_token", "create_voice_agent_token", "create_tts_token"}
# Reads only the gateway's own store (an upload link's state): it sends nothing upstream, and declares
# the upload call its link's file went through because a handler tool must declare one.
GATEWAY_STATE_READERS = {"wait_for_upload"}
SPECS = sorted(CATALOG.tools.values(), key=lambda spec: spec.name)


def test_product_tools_exist_in_their_toolsets() -> None:
    for toolset, names in EXPECTED_TOOLS.items():
        for name in names:
            assert name in CATALOG.tools, f"{name} is missing"
            assert CATALOG.tools[name].toolset == toolset, f"{name} belongs in {toolset}"


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_tool_has_a_known_toolset_and_every_hint(spec: ToolSpec) -> None:
    assert spec.toolset in CATALOG.toolsets
    hints = spec.annotations.model_dump(by_alias=True)
    assert set(hints) == {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}
    assert all(isinstance(value, bool) for value in hints.values())


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_description_says_what_to_call_next(spec: ToolSpec) -> None:
    others = [
        name for name in CATALOG.tools if name != spec.name and re.search(rf"\b{name}\b", spec.description)
    ]
    assert others or re.search(r"\bnext\b", spec.description, re.IGNORECASE), spec.description


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_input_schema_is_a_closed_flat_object(spec: ToolSpec) -> None:
    schema = input_schema(spec)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert not {"anyOf", "oneOf", "allOf", "not", "if"} & set(schema)


@pytest.mark.parametrize("name", sorted(CATALOG.outputs))
def test_output_schema_is_an_object(name: str) -> None:
    assert CATALOG.outputs[name]["type"] == "object"


def test_read_only_tools_are_the_gets_except_token_minters() -> None:
    read_only = {spec.name for spec in SPECS if spec.annotations.read_only}
    # A local tool (the bundled API reference) reads data the server carries, like a GET would.
    gets = {spec.name for spec in SPECS if spec.local or spec.route.method == "GET"}
    assert read_only == (gets - TOKEN_TOOLS) | GATEWAY_STATE_READERS
    assert TOKEN_TOOLS <= gets


def test_read_only_tools_are_exactly_the_pure_reads() -> None:
    for spec in SPECS:
        assert spec.annotations.read_only == (spec.effects in (["read"], ["reference"])), spec.name


def test_billed_tools_are_tagged_billing() -> None:
    for spec in SPECS:
        billed = bool({"transcription", "llm", "upload", "synthesis"} & set(spec.effects))
        assert billed == ("billing" in spec.tags), spec.name


def test_composite_tools_use_other_tools_only_for_the_arguments_that_need_them() -> None:
    uses = {spec.name: [(use.tool, sorted(use.when)) for use in spec.uses] for spec in SPECS if spec.uses}
    assert uses == {
        # An upload link's file was uploaded on the link creator's behalf: reading it is wait_for_upload's.
        "transcribe": [("upload_file", ["data_base64", "path"]), ("wait_for_upload", ["upload_link"])],
        "llm_chat_completion": [("get_transcript", ["transcript_id"])],
        # It reads transcripts (archived or recent): a token must be allowed to list and read them.
        "search_archive": [("list_transcripts", []), ("get_transcript", [])],
        # The one-request APIs take bytes: reading the server's files or fetching a URL is upload_file's.
        "transcribe_clip": [("upload_file", ["path", "url"])],
        "dictate": [("upload_file", ["path", "url"])],
    }


def test_destructive_tools_are_the_deletes() -> None:
    destructive = {spec.name for spec in SPECS if spec.annotations.destructive}
    assert destructive == {spec.name for spec in SPECS if not spec.local and spec.route.method == "DELETE"}


@pytest.mark.parametrize("name", sorted(TOKEN_TOOLS))
def test_token_tools_bound_their_durations(name: str) -> None:
    query = CATALOG.tools[name].params.query
    expires, session = query["expires_in_seconds"], query["max_session_duration_seconds"]
    assert (expires.minimum, expires.maximum, expires.required) == (1, 600, True)
    # A TTS session lasts at most session_ttl_sec, 3600 (ENDPOINTS-SDK-2026-10.md §3.3).
    assert (session.minimum, session.maximum) == (60, 3600 if name == "create_tts_token" else 10800)


def test_create_transcript_defaults_speech_models() -> None:
    speech_models = CATALOG.tools["create_transcript"].params.body["speech_models"]
    assert speech_models.default == ["universal-3-pro", "universal-2"]
    assert speech_models.apply_default is True
    assert speech_models.enum is None, "speech_models is an open list (ENDPOINTS.md §12)"


def test_a_stray_key_in_an_output_schema_fails_at_load(tmp_path: Path) -> None:
    # An unquoted comma in a YAML flow mapping splits a description into a stray key (it happened).
    outputs = (default_schema_dir() / "outputs.yaml").read_text(encoding="utf-8")
    quoted = 'description: "What to call next, given the status."}'
    assert quoted in outputs
    slipped = outputs.replace(quoted, "description: What to call next, given the status.}")
    message = load_error(tmp_path, {"outputs.yaml": slipped})
    assert "outputs.yaml" in message and "'given the status.'" in message and "comma" in message


def test_every_schema_key_in_the_catalog_is_a_json_schema_keyword() -> None:
    catalog = load_default_catalog()
    for name, spec in catalog.tools.items():
        definition = tool_definition(spec, catalog)
        assert unknown_keywords(definition.input_schema) == [], name
        assert unknown_keywords(definition.output_schema or {}) == [], name
