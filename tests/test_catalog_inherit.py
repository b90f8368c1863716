"""`inherit`: a tool takes another tool's body parameters and refusals, checked at load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.test_catalog import CATALOG, assert_names, catalog_dir, load_dir, load_error, probe, tools_yaml

BASE: dict[str, Any] = probe(
    name="base_tool",
    method="POST",
    path="/v2/transcript",
    params={
        "body": {
            "audio_url": {"type": "string", "required": True, "description": "Audio."},
            "speaker_labels": {"type": "boolean", "description": "Speakers."},
        }
    },
    refuse={"summarization": "Use the LLM tools."},
)


def child(**inherit: Any) -> dict[str, Any]:
    return probe(name="child_tool", method="POST", path="/v2/transcript", params={}, inherit=inherit)


def test_child_gets_body_and_refusals_with_optional_made_optional(tmp_path: Path) -> None:
    files = {"a.yaml": tools_yaml(BASE, child(tool="base_tool", optional=["audio_url"]))}
    catalog = load_dir(catalog_dir(tmp_path, files))
    body = catalog.tools["child_tool"].params.body
    assert set(body) == {"audio_url", "speaker_labels"}
    assert body["audio_url"].required is False
    assert catalog.tools["base_tool"].params.body["audio_url"].required is True
    assert catalog.tools["child_tool"].refuse == {"summarization": "Use the LLM tools."}


def test_unknown_base_tool_fails(tmp_path: Path) -> None:
    message = load_error(tmp_path, {"a.yaml": tools_yaml(child(tool="nope"))})
    assert_names(message, "a.yaml", "child_tool", "'nope'")


def test_unknown_optional_parameter_fails(tmp_path: Path) -> None:
    message = load_error(tmp_path, {"a.yaml": tools_yaml(BASE, child(tool="base_tool", optional=["bogus"]))})
    assert_names(message, "a.yaml", "child_tool", "bogus")


def test_a_parameter_declared_twice_fails(tmp_path: Path) -> None:
    clashing = child(tool="base_tool")
    clashing["params"] = {"options": {"speaker_labels": {"type": "boolean", "description": "Again."}}}
    message = load_error(tmp_path, {"a.yaml": tools_yaml(BASE, clashing)})
    assert_names(message, "a.yaml", "child_tool", "speaker_labels")


def test_transcribe_takes_every_create_transcript_option() -> None:
    create, transcribe = CATALOG.tools["create_transcript"], CATALOG.tools["transcribe"]
    assert set(create.params.body) <= set(transcribe.params.body)
    assert transcribe.refuse == create.refuse
    assert not transcribe.params.body["audio_url"].required
