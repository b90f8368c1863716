"""The LLM Gateway's error envelopes (ENDPOINTS-SDK-2026-10.md §4.4) read into the error taxonomy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aai_mcp.mcp_server.runtime import results
from aai_mcp.upstream.errors import ErrorKind, error_from_response
from tests.support import CANARY_KEY

REQUEST_ID = "req-5b1c"
BUSINESS = {
    "message": "Invalid request",
    "code": "invalid_request",
    "request_id": REQUEST_ID,
    "metadata": {"errors": ["speech_understanding.request: exactly one feature", "transcript_id: not found"]},
}
AUTH_401 = {"error": "Invalid API key", "status": 401, "request_id": REQUEST_ID}
SPEC_2026_03 = {"error": {"code": 404, "message": "Model 'gpt-9' not found", "metadata": {}}}


def answer(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"content-type": "application/json"})


def test_business_envelope_gives_message_validation_errors_and_request_id() -> None:
    error = error_from_response(answer(400, BUSINESS))
    assert error.kind is ErrorKind.UPSTREAM_REJECTED and error.status == 400
    first = "speech_understanding.request: exactly one feature"
    assert f"Invalid request ({first}; transcript_id" in error.message
    details = error.as_dict()
    assert details["upstream_errors"] == BUSINESS["metadata"]["errors"]  # type: ignore[index]
    assert details["request_id"] == REQUEST_ID


def test_auth_middleware_envelope_reads_its_string_error() -> None:
    error = error_from_response(answer(401, AUTH_401))
    assert error.message == "AssemblyAI answered HTTP 401: Invalid API key."
    assert error.as_dict()["request_id"] == REQUEST_ID and "upstream_errors" not in error.as_dict()


def test_spec_envelope_still_reads_its_nested_message() -> None:
    error = error_from_response(answer(404, SPEC_2026_03))
    assert error.message == "AssemblyAI answered HTTP 404: Model 'gpt-9' not found."
    assert error.kind is ErrorKind.UPSTREAM_REJECTED


@pytest.mark.parametrize(
    "status, kind", [(429, ErrorKind.RATE_LIMITED), (503, ErrorKind.UPSTREAM_UNAVAILABLE)]
)
def test_business_envelope_on_retryable_statuses_keeps_the_kind(status: int, kind: ErrorKind) -> None:
    error = error_from_response(answer(status, {**BUSINESS, "message": "busy"}))
    assert error.kind is kind and error.retryable
    assert error.as_dict()["request_id"] == REQUEST_ID


def test_errors_only_envelope_still_says_what_is_wrong() -> None:
    body = {"request_id": REQUEST_ID, "metadata": {"errors": ["max_tokens: must be >= 1"]}}
    message = error_from_response(answer(400, body)).message
    assert message == "AssemblyAI answered HTTP 400: max_tokens: must be >= 1."


def test_a_long_list_of_errors_is_bounded() -> None:
    many = {**BUSINESS, "metadata": {"errors": ["x" * 500] * 50}}
    reported = error_from_response(answer(400, many)).as_dict()["upstream_errors"]
    assert len(reported) == 10 and all(len(item) <= 201 for item in reported)


def test_a_key_echoed_in_the_validation_errors_is_redacted() -> None:
    echoed = {**BUSINESS, "metadata": {"errors": [f"key {CANARY_KEY} is not allowed"]}}
    error = error_from_response(answer(400, echoed)).redacted(CANARY_KEY)
    result = results.upstream_error(error, simulated=False)
    assert CANARY_KEY not in result.model_dump_json()
    assert CANARY_KEY not in error.message
