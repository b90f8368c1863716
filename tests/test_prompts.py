"""prompts/list and prompts/get through the in-memory client, and the strict prompts.yaml loader."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from aai_mcp.catalog import CatalogError
from aai_mcp.catalog.prompt_specs import default_prompts_path, load_prompts
from aai_mcp.gateway import Gateway

pytestmark = pytest.mark.anyio

AUDIO = "https://example.com/calls/42.mp3"
TID = "5551722-f677-48a2-b7c3-0e2f9c5f2f0a"
CONTEXTS = {"call_phases": "vtt", "podcast_show_notes": "sentences", "support_escalation_audit": "utterances"}
OWN_ARGS = {"call_phases": {"phases": 'greeting, "problem", resolution, closing'}}


async def render(client: Client, name: str, **arguments: str) -> str:
    result = await client.get_prompt(name, {**OWN_ARGS.get(name, {}), **arguments})
    (message,) = result.messages
    assert message.role == "user" and message.content.type == "text"
    text: str = message.content.text
    return text


def tool_args(text: str, tool: str) -> dict[str, Any]:
    """The JSON arguments the prompt tells the model to call `tool` with."""
    start = text.index(f"`{tool}` with ") + len(f"`{tool}` with ")
    arguments, _ = json.JSONDecoder().raw_decode(text, start)
    assert isinstance(arguments, dict)
    return arguments


def tools_named(text: str) -> list[str]:
    return re.findall(r"[Cc]all `([a-z_]+)`", text)


async def test_prompts_are_listed_with_their_arguments(client: Client) -> None:
    listed = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(listed) == set(CONTEXTS)
    for prompt in listed.values():
        assert prompt.title and prompt.description
        arguments = {a.name: a for a in prompt.arguments or []}
        assert arguments["audio_url"].required is False and arguments["transcript_id"].required is False
        assert all(a.description for a in arguments.values())
    phases = {a.name: a for a in listed["call_phases"].arguments or []}["phases"]
    assert phases.required is True and "greeting" in (phases.description or "")


@pytest.mark.parametrize("name", sorted(CONTEXTS))
async def test_from_audio_url_transcribe_then_ask_in_at_most_three_calls(
    client: Client, gateway: Gateway, name: str
) -> None:
    text = await render(client, name, audio_url=AUDIO)
    # include=[]: the transcript goes to the LLM through ask_transcript, never through the model.
    assert tool_args(text, "transcribe") == {"audio_url": AUDIO, "speaker_labels": True, "include": []}
    ask = tool_args(text, "ask_transcript")
    assert ask["context"] == CONTEXTS[name]
    assert ask["transcript_ids"] == ["<the id from step 1>"] and ask["prompt"]
    assert tool_args(text, "wait_for_transcript") == {"transcript_id": "<the id from step 1>", "include": []}
    named = tools_named(text)
    assert named == ["transcribe", "wait_for_transcript", "ask_transcript"]
    assert set(named) <= set(gateway.catalog.tools)
    assert text.index("`transcribe`") < text.index("`ask_transcript`")


@pytest.mark.parametrize("name", sorted(CONTEXTS))
async def test_from_transcript_id_nothing_is_transcribed_again(client: Client, name: str) -> None:
    text = await render(client, name, transcript_id=TID, audio_url="  ")
    assert "`transcribe`" not in text
    assert tool_args(text, "wait_for_transcript") == {"transcript_id": TID, "include": []}
    ask = tool_args(text, "ask_transcript")
    assert ask["transcript_ids"] == [TID] and ask["context"] == CONTEXTS[name]
    assert tools_named(text) == ["wait_for_transcript", "ask_transcript"]


async def test_call_phases_asks_for_the_json_shape_with_the_phases_escaped(client: Client) -> None:
    text = await render(client, "call_phases", audio_url=AUDIO)
    prompt = tool_args(text, "ask_transcript")["prompt"]
    assert OWN_ARGS["call_phases"]["phases"] in prompt and OWN_ARGS["call_phases"]["phases"] in text
    assert '{"phase": "<phase name>", "start": <seconds>, "end": <seconds>' in prompt
    assert "JSON array" in prompt and "seconds" in prompt


async def test_long_answers_ask_for_more_tokens(client: Client) -> None:
    text = await render(client, "podcast_show_notes", transcript_id=TID)
    assert tool_args(text, "ask_transcript")["max_tokens"] == 2000
    assert "max_tokens" not in tool_args(
        await render(client, "call_phases", transcript_id=TID), "ask_transcript"
    )


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("call_phases", {"audio_url": AUDIO}, "needs the argument.*phases"),
        ("call_phases", {"audio_url": AUDIO, "phases": " "}, "needs the argument.*phases"),
        ("podcast_show_notes", {}, "exactly one of audio_url .* or transcript_id.*neither"),
        ("podcast_show_notes", {"audio_url": AUDIO, "transcript_id": TID}, "exactly one.*both"),
        ("podcast_show_notes", {"audio_url": AUDIO, "speed": "fast"}, "no arguments \\['speed'\\]"),
        ("podcast_show_notes", {"transcript_id": "not an id!"}, "not a transcript id"),
        ("show_notes", {"audio_url": AUDIO}, "Unknown prompt 'show_notes'"),
    ],
)
async def test_bad_arguments_are_clear_errors(
    client: Client, name: str, arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(MCPError, match=message) as caught:
        await client.get_prompt(name, arguments)
    assert caught.value.code == -32602


# --- the loader -------------------------------------------------------------------------------


def real_prompts() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(default_prompts_path().read_text(encoding="utf-8"))
    return data


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "prompts.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_the_shipped_prompts_load() -> None:
    catalog = load_prompts(default_prompts_path())
    assert set(catalog.prompts) == set(CONTEXTS)
    assert {name: spec.context for name, spec in catalog.prompts.items()} == CONTEXTS


def _set(key: str, value: Any) -> Any:
    return lambda data: data["prompts"][0].__setitem__(key, value)


def _append_to(key: str, suffix: str) -> Any:
    return lambda data: data["prompts"][0].__setitem__(key, data["prompts"][0][key] + suffix)


BROKEN = [
    (_set("color", "red"), r"prompt 0 \(call_phases\): color: Extra inputs are not permitted"),
    (
        _append_to("goal", " Speed: ${speed}."),
        r"prompt 0 \(call_phases\): goal: placeholders \['speed'\] are not",
    ),
    (_append_to("ask", " Costs $5."), r"prompt 0 \(call_phases\): ask: a '\$' that is not a"),
    (
        lambda d: d["prompts"][0]["arguments"].append({"name": "tone", "description": "Tone."}),
        r"prompt 0 \(call_phases\): arguments \['tone'\] are declared but no template uses them",
    ),
    (
        lambda d: d["prompts"][0]["arguments"].append(dict(d["prompts"][0]["arguments"][0])),
        r"prompt 0 \(call_phases\): duplicate argument 'phases'",
    ),
    (
        lambda d: d["prompts"][1].__setitem__("arguments", [{"name": "audio_url", "description": "x"}]),
        r"prompt 1 \(podcast_show_notes\): argument 'audio_url' is shared",
    ),
    (
        lambda d: d["prompts"].append(copy.deepcopy(d["prompts"][0])),
        r"prompt 3 \(call_phases\): duplicate prompt name",
    ),
    (_set("context", "words"), r"prompt 0 \(call_phases\): context: Input should be"),
    (lambda d: d["prompts"][2].pop("ask"), r"prompt 2 \(support_escalation_audit\): ask: Field required"),
    (
        lambda d: d["steps"].__setitem__("transcript_id", "Call `transcribe` with ${transcribe_args}."),
        r"steps.transcript_id: unknown placeholders \['transcribe_args'\]",
    ),
    (
        lambda d: d["steps"].__setitem__("audio_url", "Call `transcribe` with ${transcribe_args}."),
        r"steps.audio_url: must use \['ask_args'\]",
    ),
    (lambda d: d.__setitem__("tools", []), r"prompts.yaml: tools: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("breaking", "message"), BROKEN)
def test_loader_errors_name_the_file_and_the_prompt(tmp_path: Path, breaking: Any, message: str) -> None:
    data = real_prompts()
    breaking(data)
    with pytest.raises(CatalogError, match=message) as caught:
        load_prompts(write(tmp_path, data))
    assert str(caught.value).startswith("prompts.yaml: ")


def test_duplicate_yaml_keys_fail(tmp_path: Path) -> None:
    path = tmp_path / "prompts.yaml"
    path.write_text(default_prompts_path().read_text(encoding="utf-8") + "audio: {}\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"prompts\.yaml: not valid YAML: .*duplicate key 'audio'"):
        load_prompts(path)
