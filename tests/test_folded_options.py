"""create_transcript and transcribe list their common fields and take the rest inside `options`:
every upstream field stays reachable and is validated by its own schema, wherever it is given."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx
from mcp.client import Client

from aai_mcp.catalog import ToolSpec
from aai_mcp.catalog.model import OPTIONS_ARGUMENT
from aai_mcp.catalog.spec_schemas import json_type
from aai_mcp.mcp_server.registry import input_schema
from aai_mcp.mcp_server.runtime.validation import ArgumentValidator, unfolded
from tests.support.spec_reference import CATALOG

FOLDING = ["create_transcript", "transcribe"]
AUDIO = "https://example.com/a.mp3"


def spec_of(name: str) -> ToolSpec:
    return CATALOG.tools[name]


def wrong_value(spec: ToolSpec, field: str) -> Any:
    """A value whose JSON type the field's schema does not take."""
    declared = spec.params.body[field].type
    types = {declared} if isinstance(declared, str) else set(declared)
    if "number" in types:
        types.add("integer")
    return next(value for value in ("text", 12345, True, [1], {"a": 1}) if json_type(value) not in types)


@pytest.mark.parametrize("name", FOLDING)
def test_every_body_field_is_listed_or_named_in_options(name: str) -> None:
    spec = spec_of(name)
    schema = input_schema(spec)
    listed = set(schema["properties"]) - {OPTIONS_ARGUMENT}
    pointer = schema["properties"][OPTIONS_ARGUMENT]["description"]
    assert spec.folded, "nothing folded: the fold is gone"
    # transcribe takes create_transcript's fields and points there rather than list them twice.
    naming = spec_of(spec.inherit.tool) if spec.inherit else spec
    if spec.inherit:
        assert f"{spec.inherit.tool} field" in pointer and naming.folded == spec.folded
    named = input_schema(naming)["properties"][OPTIONS_ARGUMENT]["description"]
    for field in spec.params.body:
        assert (field in listed) != (field in spec.folded), field
        if field in spec.folded:
            assert f" {field}," in named or f" {field}." in named, field
    assert "get_api_reference" in pointer


@pytest.mark.parametrize("name", FOLDING)
def test_a_folded_field_is_checked_by_its_own_schema_with_the_same_message(name: str) -> None:
    spec = spec_of(name)
    validator = ArgumentValidator(spec)
    for field in spec.folded:
        bad = wrong_value(spec, field)
        at_top = validator.problem({"audio_url": AUDIO, field: bad})
        inside = validator.problem({"audio_url": AUDIO, OPTIONS_ARGUMENT: {field: bad}})
        assert at_top is not None and f"'{field}'" in at_top, field
        assert inside == at_top, field


@pytest.mark.parametrize("name", FOLDING)
def test_options_unfold_into_the_arguments_handlers_read(name: str) -> None:
    spec = spec_of(name)
    options = {"redact_pii": True, "redact_pii_policies": ["person_name"], "webhook_url": "https://e.com/h"}
    args = {"audio_url": AUDIO, "speaker_labels": True, OPTIONS_ARGUMENT: options}
    assert ArgumentValidator(spec).problem(args) is None
    assert unfolded(spec, args) == {"audio_url": AUDIO, "speaker_labels": True, **options}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("redact_pii", "Invalid argument 'options': 'redact_pii' is not an object"),
        ({"wait": False}, "Unknown field(s) in options: 'wait'. Accepted: audio_url, speech_models"),
        ({"speaker_labels": True}, "Given both at the top level and in options: 'speaker_labels'."),
        ({"summarization": True}, "Argument 'summarization' is not accepted: auto_chapters, summarization"),
    ],
)
def test_options_that_cannot_be_unfolded_are_refused(options: Any, expected: str) -> None:
    args = {"audio_url": AUDIO, "speaker_labels": True, OPTIONS_ARGUMENT: options}
    problem = ArgumentValidator(spec_of("transcribe")).problem(args)
    assert problem is not None and problem.startswith(expected), problem


def test_a_tool_without_a_fold_has_no_options_argument() -> None:
    spec = spec_of("list_transcripts")
    assert spec.fold is None and OPTIONS_ARGUMENT not in input_schema(spec)["properties"]
    assert "Unknown argument(s): 'options'" in (ArgumentValidator(spec).problem({"options": {}}) or "")


@pytest.mark.anyio
async def test_options_reach_the_upstream_body(client: Client, respx_mock: respx.MockRouter) -> None:
    queued = {"id": "t1", "status": "queued", "audio_url": AUDIO}
    route = respx_mock.post("https://api.assemblyai.com/v2/transcript").respond(200, json=queued)
    options = {"sentiment_analysis": True, "speaker_options": {"min_speakers_expected": 2}}
    result = await client.call_tool("create_transcript", {"audio_url": AUDIO, "options": options})
    assert not result.is_error
    body = json.loads(route.calls.last.request.content)
    assert body == {"audio_url": AUDIO, "speech_models": ["universal-3-pro", "universal-2"], **options}
    # Before the fold they were top-level arguments: clients that send them so keep working.
    result = await client.call_tool("create_transcript", {"audio_url": AUDIO, **options})
    assert not result.is_error and json.loads(route.calls.last.request.content) == body
