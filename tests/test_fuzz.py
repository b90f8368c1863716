"""Schema-driven fuzzing of every tool (a small run; scripts/fuzz.py runs 10 000 cases).

Valid arguments get a result or a clear error, never a crash; invalid ones (one mutation of a
valid value) are refused as invalid_arguments before anything goes upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aai_mcp.gateway import load_default_catalog
from tests.support.fuzzing import Case, SyncRig, running_rig

TOOLS = sorted(load_default_catalog().tools)
FUZZ = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncRig]:
    with running_rig(tmp_path_factory.mktemp("uploads")) as running:
        yield running


@pytest.mark.parametrize("tool", TOOLS)
@FUZZ
@given(data=st.data())
def test_valid_arguments_get_a_result_or_a_clear_error(rig: SyncRig, tool: str, data: st.DataObject) -> None:
    outcome = rig.run(tool, data.draw(rig.strategies(tool).valid, label="case"))
    assert outcome.category in ("ok", "refused", "upstream_error"), outcome.describe()


@pytest.mark.parametrize("tool", TOOLS)
@FUZZ
@given(data=st.data())
def test_invalid_arguments_are_refused_before_upstream(rig: SyncRig, tool: str, data: st.DataObject) -> None:
    outcome = rig.run(tool, data.draw(rig.strategies(tool).invalid, label="case"))
    assert outcome.category == "rejected", outcome.describe()


def test_a_failure_found_with_the_rig_is_reported_as_itself(rig: SyncRig) -> None:
    # Hypothesis reprs the failing call's arguments before replaying it; a rig whose repr had grown
    # past 30 000 characters made that a warning, under filterwarnings=error an exception before the
    # first draw, and the report a FlakyStrategyDefinition ("stopped drawing earlier") instead of the bug.
    for tool in rig.tools:
        rig.strategies(tool)

    @settings(FUZZ, max_examples=3)
    @given(data=st.data())
    def finds_a_bug(rig: SyncRig, data: st.DataObject) -> None:
        data.draw(rig.strategies("get_paragraphs").valid, label="case")
        raise AssertionError("the bug")

    with pytest.raises(AssertionError, match="the bug"):
        finds_a_bug(rig)


@pytest.mark.parametrize(
    "arguments",
    [
        {"transcript_id": "abc\n"},  # Python's `$` matches before a final newline; JSON Schema's does not
        {"transcript_id": "../v2/transcript"},
        {"transcript_id": ""},
        {"transcript_id": "x" * 129},
        {"transcript_id": None},
        {"transcript_id": 7},
        {"transcript_id": "abc", "text_offset": -1},
        {"transcript_id": "abc", "surprise": True},
        {},
    ],
)
def test_known_bad_arguments_never_reach_upstream(rig: SyncRig, arguments: dict[str, Any]) -> None:
    outcome = rig.run("get_transcript", Case(arguments, mutation="hand-written"))
    assert outcome.category == "rejected", outcome.describe()


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [  # crashes the fuzzer found in the simulator: valid arguments must get a 4xx, not an exception
        ("llm_chat_completion", {"model": "gpt-5", "prompt": "hi", "tools": [{}], "tool_choice": {}}),
        ("llm_chat_completion", {"model": "gpt-5", "prompt": "hi", "tool_choice": {"function": "f"}}),
        (
            "create_transcript",
            {
                "audio_url": "https://example.com/call.mp3",
                "speech_understanding": {"request": {"speaker_identification": {"speaker_type": "role"}}},
            },
        ),
    ],
)
def test_found_crashes_stay_fixed(rig: SyncRig, tool: str, arguments: dict[str, Any]) -> None:
    outcome = rig.run(tool, Case(arguments))
    assert outcome.category == "upstream_error", outcome.describe()


def test_an_invalid_answer_schema_is_refused_before_upstream(rig: SyncRig) -> None:
    """Once a simulator crash (now also tests/simulator/test_sim_llm_models.py): the gateway checks
    the schema itself now, so it never reaches upstream."""
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object", "required": True}},
    }
    arguments = {"model": "claude-opus-4-6", "prompt": "0", "response_format": response_format}
    outcome = rig.run("llm_chat_completion", Case(arguments))
    assert outcome.category == "refused", outcome.describe()
