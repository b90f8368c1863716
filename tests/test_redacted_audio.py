"""get_redacted_audio says "not ready yet" for AssemblyAI's 202 and "expired" for its 400, as the
official SDK reads them (prerecorded/v2/api.py:143-178), instead of a URL-less success."""

from __future__ import annotations

from typing import Any

import httpx
import mcp_types as types
import pytest

from aai_mcp.gateway import build_gateway
from tests.support import error_details, make_settings

pytestmark = pytest.mark.anyio
PATH = "/v2/transcript/abc123/redacted-audio"


async def call_with(answer: httpx.Response) -> tuple[types.CallToolResult, list[str]]:
    seen: list[str] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return answer

    gateway = build_gateway(make_settings(get_retries=0), transport=httpx.MockTransport(upstream))
    try:
        return await gateway.runner.call("get_redacted_audio", {"transcript_id": "abc123"}), seen
    finally:
        await gateway.aclose()


def text_of(result: types.CallToolResult) -> str:
    content: Any = result.content[0]
    return str(content.text)


async def test_a_202_is_not_ready_yet_and_retryable() -> None:
    result, seen = await call_with(httpx.Response(202, json={"status": "processing"}))
    assert seen == [f"GET {PATH}"]
    error = error_details(result)
    assert error["retryable"] is True and error["kind"] == "upstream_unavailable"
    assert "not ready yet (HTTP 202) (transcript status 'processing')" in text_of(result)


async def test_an_empty_202_is_not_ready_yet_too() -> None:
    result, _ = await call_with(httpx.Response(202))
    assert "not ready yet (HTTP 202):" in text_of(result)


async def test_a_400_is_expired_and_not_retryable() -> None:
    result, _ = await call_with(httpx.Response(400, json={"error": "Redacted audio file has expired"}))
    error = error_details(result)
    assert error["retryable"] is False and error["kind"] == "upstream_rejected"
    text = text_of(result)
    assert "has expired or was never made (HTTP 400)" in text and "Redacted audio file has expired" in text


async def test_a_ready_answer_is_the_url() -> None:
    url = "https://s3.example/redacted.mp3"
    result, _ = await call_with(
        httpx.Response(200, json={"status": "redacted_audio_ready", "redacted_audio_url": url})
    )
    assert not result.is_error
    assert result.structured_content == {"status": "redacted_audio_ready", "redacted_audio_url": url}


async def test_other_errors_pass_through_unchanged() -> None:
    result, _ = await call_with(httpx.Response(404, json={"error": "Transcript not found"}))
    assert "expired" not in text_of(result) and "HTTP 404" in text_of(result)
