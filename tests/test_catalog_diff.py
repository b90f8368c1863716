"""`aai-mcp catalog diff`: clean against the reference specs (CI runs this), and each kind of upstream
change in a modified copy is reported under its tool with a failing exit status."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from aai_mcp.catalog import default_schema_dir
from aai_mcp.catalog.spec_diff import catalog_differences
from aai_mcp.catalog.upstream_specs import SDK_FIELDS_FILE, load_spec_files
from aai_mcp.cli.catalog_diff import OMISSIONS_FILE, load_omissions
from aai_mcp.cli.main import main
from tests.support.spec_reference import CATALOG, SPEC_FILES, spec_dir

SDK_FIELDS = default_schema_dir() / SDK_FIELDS_FILE
Document = dict[str, Any]


def run_diff(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    code = main(["catalog", "diff", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def bundled() -> list[Path]:
    return [spec_dir() / name for name in SPEC_FILES.values()]


def modified_openapi(tmp_path: Path, change: Callable[[Document], None]) -> list[Path]:
    """The reference specs with openapi.json changed by `change`, plus the SDK fields list."""
    document = json.loads((spec_dir() / "openapi.json").read_text(encoding="utf-8"))
    change(document)
    copy = tmp_path / "openapi.json"
    copy.write_text(json.dumps(document), encoding="utf-8")
    others = [spec_dir() / name for name in SPEC_FILES.values() if name != "openapi.json"]
    return [copy, *others, SDK_FIELDS]


def transcript_params(document: Document) -> Document:
    properties: Document = document["components"]["schemas"]["TranscriptOptionalParams"]["properties"]
    return properties


def list_params(document: Document) -> list[Document]:
    parameters: list[Document] = document["paths"]["/v2/transcript"]["get"]["parameters"]
    return parameters


def test_the_catalog_matches_the_reference_specs_and_the_sdk_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run_diff(capsys, *bundled(), SDK_FIELDS)
    assert code == 0, out
    assert "0 unexplained difference(s)" in out
    assert "[explained: SSE streaming cannot be one tool result" in out


def test_every_omission_still_explains_a_difference() -> None:
    reference = load_spec_files([*bundled(), SDK_FIELDS])
    omissions = load_omissions()
    explained = {(d.tool, d.name) for d in catalog_differences(CATALOG, reference, omissions) if d.reason}
    stale = sorted(set(omissions.parameters) - explained)
    assert stale == [], f"omissions no longer needed: drop {stale} from {OMISSIONS_FILE}"


def test_without_the_sdk_fields_the_sdk_sourced_parameters_are_unexplained(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run_diff(capsys, *bundled())
    assert code == 1
    assert "removed      domain: upstream does not have it" in out
    assert "removed      speaker_options.use_two_stage_clustering: upstream does not have it" in out


def add_parameter(document: Document) -> None:
    transcript_params(document)["noise_gate"] = {"type": "boolean"}


def add_nested_parameter(document: Document) -> None:
    transcript_params(document)["speaker_options"]["properties"]["min_turn_ms"] = {"type": "integer"}


def deprecate_parameter(document: Document) -> None:
    transcript_params(document)["webhook_url"]["deprecated"] = True


def remove_parameter(document: Document) -> None:
    subtitles = document["paths"]["/v2/transcript/{transcript_id}/{subtitle_format}"]["get"]
    subtitles["parameters"] = [p for p in subtitles["parameters"] if p["name"] != "chars_per_caption"]


def change_type(document: Document) -> None:
    next(p for p in list_params(document) if p["name"] == "limit")["schema"]["type"] = "string"


def tighten_bound(document: Document) -> None:
    next(p for p in list_params(document) if p["name"] == "limit")["schema"]["maximum"] = 100


def add_enum_value(document: Document) -> None:
    document["components"]["schemas"]["SubstitutionPolicy"]["enum"].append("mask")


def add_endpoint(document: Document) -> None:
    document["paths"]["/v2/transcript/{transcript_id}/chapters"] = {"get": {"parameters": []}}


CHANGES = [
    (add_parameter, "create_transcript:", "missing      noise_gate: upstream has it"),
    (add_parameter, "transcribe:", "missing      noise_gate: upstream has it"),
    (add_nested_parameter, "create_transcript:", "missing      speaker_options.min_turn_ms: upstream has it"),
    (deprecate_parameter, "create_transcript:", "deprecated   webhook_url: upstream deprecated it"),
    (remove_parameter, "get_subtitles:", "removed      chars_per_caption: upstream does not have it"),
    (
        change_type,
        "list_transcripts:",
        "changed      limit: type ['integer'] not accepted by the spec (['string'])",
    ),
    (tighten_bound, "list_transcripts:", "changed      limit: maximum 200 is above the spec's 100"),
    (add_enum_value, "create_transcript:", "missing      redact_pii_sub: upstream also accepts ['mask']"),
    (add_endpoint, "upstream operations no tool calls:", "GET api:/v2/transcript/{transcript_id}/chapters"),
]


@pytest.mark.parametrize(("change", "tool", "expected"), CHANGES, ids=[c[0].__name__ for c in CHANGES])
def test_each_kind_of_upstream_change_is_reported_under_its_tool(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[Document], None],
    tool: str,
    expected: str,
) -> None:
    code, out = run_diff(capsys, *modified_openapi(tmp_path, change))
    assert code == 1, out
    section = out.partition(f"\n{tool}\n")[2].partition("\n\n")[0]
    assert expected in section, out
    assert "1 unexplained difference(s)" in out or tool in ("create_transcript:", "transcribe:"), out


def test_a_new_field_in_an_sdk_fields_list_is_reported_with_its_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sdk = yaml.safe_load(SDK_FIELDS.read_text(encoding="utf-8"))
    sdk["sdk_fields"]["operations"][0]["body"]["speech_threshold_mode"] = {
        "sdk": "types.py:9999",
        "schema": {"type": "string"},
    }
    newer = tmp_path / "sdk-fields.yaml"
    newer.write_text(yaml.safe_dump(sdk), encoding="utf-8")
    code, out = run_diff(capsys, *bundled(), newer)
    assert code == 1
    assert "missing      speech_threshold_mode: upstream has it (SDK types.py:9999)" in out


def test_an_omission_with_a_reason_explains_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    omissions = yaml.safe_load((default_schema_dir() / OMISSIONS_FILE).read_text(encoding="utf-8"))
    for tool in ("create_transcript", "transcribe"):
        row = {"tool": tool, "parameter": "noise_gate", "reason": "Test: not offered on purpose."}
        omissions["omissions"]["parameters"].append(row)
    allowed = tmp_path / "omissions.yaml"
    allowed.write_text(yaml.safe_dump(omissions), encoding="utf-8")
    specs = modified_openapi(tmp_path, add_parameter)
    code, out = run_diff(capsys, *specs, "--omissions", allowed)
    assert code == 0, out
    assert "noise_gate: upstream has it [explained: Test: not offered on purpose.]" in out


def test_a_file_that_is_no_spec_fails_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.yaml").write_text("hello: world\n", encoding="utf-8")
    code, out = run_diff(capsys, tmp_path / "notes.yaml")
    assert code == 2
    assert "neither an OpenAPI document" in out
