"""Every failure of a tool call is a tool result with a kind, exactly one audit line and no argument
values in the logs; errors quote at most a prefix of a bad value; non-finite numbers are refused."""

from __future__ import annotations

import errno
import logging
import math
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp.client import Client

import aai_mcp.mcp_server.runtime.runner as runner_module
from aai_mcp.gateway import build_gateway, load_default_catalog
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.registry import input_schema
from aai_mcp.mcp_server.runtime.results import MESSAGE_CHARS
from aai_mcp.mcp_server.runtime.validation import QUOTE_CHARS, ArgumentValidator
from tests.support import CANARY_KEY, error_details, faults, make_settings
from tests.support.servers import serve_gateway_in_thread

CATALOG = load_default_catalog()
SECRET_ARGUMENT = "/srv/audio/board-meeting-" + "x" * 40 + ".wav"
NON_FINITE = (math.nan, math.inf, -math.inf)
# Integers past 2**53 lose digits in JavaScript clients; past 2**64 the result encoder crashed (fuzzing).
HUGE_INTEGERS = (2**53, -(2**53), 2**64, 10**30)


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "aai_mcp.audit"]


@pytest.mark.anyio
async def test_a_bug_is_an_internal_error_with_one_audit_line_and_no_argument_values(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(call: Any) -> Any:
        # As OSError and friends do: the exception text quotes what the call was given.
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), call.args["transcript_id"])

    monkeypatch.setattr(runner_module, "forward", broken)
    caplog.set_level(logging.DEBUG)
    gateway = build_gateway(make_settings(api_key=None))
    async with Client(build_server(gateway)) as client:
        result = await client.call_tool("get_sentences", {"transcript_id": "secret-id-1234"})
    await gateway.aclose()
    details = error_details(result)
    assert (details["kind"], details["retryable"]) == ("internal", False)
    assert "secret-id-1234" not in result.model_dump_json() and "Errno" not in result.model_dump_json()
    assert audit_lines(caplog) == [audit_lines(caplog)[0]] and "outcome=error" in audit_lines(caplog)[0]
    logged = "\n".join(record.getMessage() + str(record.exc_text or "") for record in caplog.records)
    assert "secret-id-1234" not in logged and "File name too long" not in logged
    assert "internal error OSError" in logged and "runner.py" in logged  # where it broke, for the operator


@pytest.mark.anyio
async def test_every_call_is_audited_exactly_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aai_mcp.audit")
    gateway = build_gateway(make_settings(api_key=None, simulator_delay_seconds=0.0))
    calls = [
        ("list_transcripts", {}),  # ok
        ("get_transcript", {"transcript_id": "nope-123"}),  # upstream 404
        ("get_transcript", {"transcript_id": SECRET_ARGUMENT}),  # invalid arguments
    ]
    for name, arguments in calls:
        await gateway.runner.call(name, arguments)
    await gateway.aclose()
    lines = audit_lines(caplog)
    assert [line.split(" tool=")[1].split()[0] for line in lines] == [name for name, _ in calls]
    assert ["outcome=ok" in lines[0], "upstream_status=404" in lines[1], "outcome=error" in lines[2]] == [
        True
    ] * 3
    assert not any("board-meeting" in line or "nope-123" in line for line in lines)


# --- input bounds ----------------------------------------------------------------------------------


def number_paths(schema: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every place a number may stand in `schema`: object properties, array items (as '[]')."""
    kinds = schema.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if {"number", "integer"} & set(kinds):
        yield path
    for name, child in schema.get("properties", {}).items():
        yield from number_paths(child, (*path, name))
    if isinstance(schema.get("items"), dict):
        yield from number_paths(schema["items"], (*path, "[]"))
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from number_paths(option, path)


def placed(path: tuple[str, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    return [placed(rest, value)] if head == "[]" else {head: placed(rest, value)}


NUMBER_PARAMS = [
    (spec.name, path) for spec in CATALOG.tools.values() for path in number_paths(input_schema(spec)) if path
]


def test_the_catalog_has_number_parameters_to_check() -> None:
    assert {("wait_for_transcript", ("timeout_seconds",)), ("transcribe", ("timeout_seconds",))} <= set(
        NUMBER_PARAMS
    )


@pytest.mark.parametrize(("tool", "path"), NUMBER_PARAMS, ids=["/".join((t, *p)) for t, p in NUMBER_PARAMS])
def test_non_finite_numbers_are_refused_for_every_number_parameter(tool: str, path: tuple[str, ...]) -> None:
    spec = CATALOG.tools[tool]
    validator = ArgumentValidator(spec)
    args = faults.minimal_args(spec, faults.known_values("tid-1"))
    for value in NON_FINITE:
        problem = validator.problem({**args, path[0]: placed(path[1:], value)})
        assert problem is not None and "not a finite number" in problem, (tool, path, value, problem)
        assert path[0] in problem


@pytest.mark.parametrize(("tool", "path"), NUMBER_PARAMS, ids=["/".join((t, *p)) for t, p in NUMBER_PARAMS])
def test_integers_beyond_what_json_clients_read_exactly_are_refused(tool: str, path: tuple[str, ...]) -> None:
    validator = ArgumentValidator(CATALOG.tools[tool])
    args = faults.minimal_args(CATALOG.tools[tool], faults.known_values("tid-1"))
    for value in HUGE_INTEGERS:
        problem = validator.problem({**args, path[0]: placed(path[1:], value)})
        assert problem is not None and "not a finite number within" in problem, (tool, path, value, problem)
    largest = validator.problem({**args, path[0]: placed(path[1:], 2**53 - 1)})
    assert largest is None or "not a finite number" not in largest  # maximum may refuse it, not this check


@pytest.mark.anyio
async def test_a_huge_offset_is_an_input_error_not_a_crash() -> None:
    gateway = build_gateway(make_settings(api_key=None))
    try:
        for tool in ("get_transcript", "get_paragraphs", "get_sentences"):
            offset = "text_offset" if tool == "get_transcript" else "start_index"
            result = await gateway.runner.call(tool, {"transcript_id": "t1", offset: 2**64})
            assert error_details(result)["kind"] == "invalid_arguments", (tool, result)
            assert offset in result.content[0].text  # type: ignore[union-attr]
    finally:
        await gateway.aclose()


@pytest.mark.anyio
async def test_nan_timeout_is_an_input_error_before_anything_goes_upstream() -> None:
    gateway = build_gateway(make_settings(api_key=None))
    result = await gateway.runner.call(
        "wait_for_transcript", {"transcript_id": "t1", "timeout_seconds": math.nan}
    )
    await gateway.aclose()
    assert error_details(result)["kind"] == "invalid_arguments"
    assert "timeout_seconds" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "arguments",
    [
        {"transcript_id": "a" * 15_000_000},  # the probe: a 15 MB id made a 30 MB error
        {"transcript_id": ["b" * 5_000_000]},  # wrong type: the whole value was quoted
        {"transcript_id": "t1", "c" * 5_000_000: 1},  # an unknown argument's name
        {"transcript_id": "t1", **{f"extra_{n}": n for n in range(10_000)}},  # very many unknown names
    ],
    ids=["long-string", "wrong-type", "long-name", "many-names"],
)
async def test_an_invalid_huge_argument_gets_a_small_error(arguments: dict[str, Any]) -> None:
    gateway = build_gateway(make_settings(api_key=None))
    async with Client(build_server(gateway)) as client:
        result = await client.call_tool("get_transcript", arguments)
    await gateway.aclose()
    assert error_details(result)["kind"] == "invalid_arguments"
    assert len(result.model_dump_json()) < 2 * MESSAGE_CHARS
    assert "…" in result.content[0].text or "and 9995 more" in result.content[0].text  # type: ignore[union-attr]
    quoted = max(result.content[0].text.split(), key=len)  # type: ignore[union-attr]
    assert len(quoted) <= QUOTE_CHARS + 10


def test_an_upstream_error_echoing_a_huge_request_is_cut() -> None:
    from aai_mcp.upstream.errors import DETAIL_CHARS, error_from_response

    response = httpx.Response(400, json={"error": "bad audio_url " + "z" * 1_000_000})
    assert len(error_from_response(response).message) < DETAIL_CHARS + 100


# --- caller keys that cannot be sent --------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["clé-non-ascii-0123456789".encode(), b"key with spaces 0123", b"tab\tkey0123"]
)
def test_a_passthrough_key_that_cannot_be_a_header_is_refused_at_the_door(key: bytes) -> None:
    gateway = build_gateway(make_settings(auth=["passthrough-key"]))
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "list_transcripts", "arguments": {}},
    }
    headers = [
        (b"accept", b"application/json, text/event-stream"),
        (b"content-type", b"application/json"),
        (b"x-assemblyai-key", key),
    ]
    with serve_gateway_in_thread(gateway) as base:
        response = httpx.post(f"{base}/mcp", json=call, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "malformed_key"
    assert key.decode("latin-1") not in response.text and CANARY_KEY not in response.text
