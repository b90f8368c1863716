"""Tool calls through the in-memory MCP client, upstream faked with respx at the transport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from mcp.client import Client

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from tests.support import CANARY_KEY, error_details, make_settings

pytestmark = pytest.mark.anyio

API = "https://api.assemblyai.com"
GATEWAY = "https://llm-gateway.assemblyai.com"
# The gateway's model list, which llm_chat_completion checks its model against first.
LISTED = {"data": [{"id": "claude-sonnet-4-6"}]}
TID = "5551722-f677-48a2-b7c3-0e2f9c5f2f0a"


def queued(**extra: Any) -> dict[str, Any]:
    return {"id": TID, "status": "queued", "audio_url": "https://example.com/a.mp3", "text": None, **extra}


def completed(words: int = 3) -> dict[str, Any]:
    word_list = [
        {"text": f"w{i}", "start": i * 100, "end": i * 100 + 90, "confidence": 0.9} for i in range(words)
    ]
    return {
        "id": TID,
        "status": "completed",
        "text": "Hello there. I was charged twice.",
        "words": word_list,
        "utterances": [
            {
                "speaker": "A",
                "text": "Hello there.",
                "start": 0,
                "end": 900,
                "confidence": 0.9,
                "words": word_list,
            },
            {
                "speaker": "B",
                "text": "I was charged twice.",
                "start": 1000,
                "end": 2500,
                "confidence": 0.9,
                "words": word_list,
            },
        ],
        "audio_duration": 3,
        "confidence": 0.93,
        "language_code": "en_us",
        "error": None,
    }


def dumped(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json", by_alias=True))


async def test_create_transcript_sends_raw_key_and_default_speech_models(
    client: Client, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API}/v2/transcript").respond(200, json=queued())
    result = await client.call_tool("create_transcript", {"audio_url": "https://example.com/a.mp3"})
    assert not result.is_error
    request = route.calls.last.request
    assert request.headers["authorization"] == CANARY_KEY
    assert json.loads(request.content) == {
        "audio_url": "https://example.com/a.mp3",
        "speech_models": ["universal-3-pro", "universal-2"],
    }
    assert result.structured_content["status"] == "queued"
    assert "text" not in result.structured_content
    assert "get_transcript" in result.structured_content["next_step"]
    assert CANARY_KEY not in dumped(result)


async def test_caller_speech_models_and_features_are_forwarded(
    client: Client, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{API}/v2/transcript").respond(200, json=queued())
    args = {"audio_url": "https://e.com/a.wav", "speech_models": ["universal-2"], "speaker_labels": True}
    await client.call_tool("create_transcript", args)
    assert json.loads(route.calls.last.request.content) == args


@pytest.mark.parametrize("field", ["summarization", "auto_chapters", "speech_model", "topics"])
async def test_deprecated_fields_are_refused_before_upstream(
    client: Client, respx_mock: respx.MockRouter, field: str
) -> None:
    route = respx_mock.post(f"{API}/v2/transcript").respond(200, json=queued())
    result = await client.call_tool("create_transcript", {"audio_url": "https://e.com/a.wav", field: True})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert field in text
    assert "llm_chat_completion" in text or "speech_models" in text or "iab_categories" in text
    assert not route.called


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("create_transcript", {"audio_url": "https://e.com/a", "speech_models": []}, "speech_models"),
        ("create_transcript", {"audio_url": "https://e.com/a", "speaker_labels": "yes"}, "speaker_labels"),
        ("create_transcript", {}, "audio_url"),
        ("get_transcript", {"transcript_id": "../v2/upload"}, "transcript_id"),
        ("get_transcript", {"transcript_id": "a?b=1"}, "transcript_id"),
        ("list_transcripts", {"limit": 500}, "limit"),
        ("create_streaming_token", {"expires_in_seconds": 601}, "expires_in_seconds"),
        (
            "create_voice_agent_token",
            {"expires_in_seconds": 60, "max_session_duration_seconds": 59},
            "max_session_duration_seconds",
        ),
        ("get_transcript", {"transcript_id": TID, "bogus": 1}, "bogus"),
    ],
)
async def test_invalid_arguments_name_the_field_and_never_reach_upstream(
    client: Client, respx_mock: respx.MockRouter, tool: str, args: dict[str, Any], field: str
) -> None:
    result = await client.call_tool(tool, args)
    assert result.is_error
    assert field in result.content[0].text  # type: ignore[union-attr]
    assert error_details(result)["kind"] == "invalid_arguments"
    assert not respx_mock.calls


async def test_get_transcript_is_compact_unless_words_are_asked_for(
    client: Client, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(200, json=completed())
    compact = await client.call_tool("get_transcript", {"transcript_id": TID})
    assert not compact.is_error
    data = compact.structured_content
    assert data["text"] == "Hello there. I was charged twice."
    assert "words" not in data
    assert all("words" not in u for u in data["utterances"])
    assert [u["speaker"] for u in data["utterances"]] == ["A", "B"]
    assert any("include_words" in note for note in data["notes"])
    assert "B: I was charged twice." in compact.content[0].text  # type: ignore[union-attr]
    full = await client.call_tool("get_transcript", {"transcript_id": TID, "include_words": True})
    assert len(full.structured_content["words"]) == 3


async def test_long_text_is_cut_with_a_notice_and_text_offset_reads_on(respx_mock: respx.MockRouter) -> None:
    gateway = build_gateway(make_settings(max_result_chars=1000))
    body = completed()
    body["text"] = "x" * 2500
    body["utterances"] = None
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(200, json=body)
    async with Client(build_server(gateway)) as client:
        first = await client.call_tool("get_transcript", {"transcript_id": TID})
        assert first.structured_content["text_range"] == {
            "offset": 0,
            "returned_chars": 1000,
            "total_chars": 2500,
            "next_offset": 1000,
        }
        assert "text_offset=1000" in first.content[0].text  # type: ignore[union-attr]
        last = await client.call_tool("get_transcript", {"transcript_id": TID, "text_offset": 2000})
        assert "next_offset" not in last.structured_content["text_range"]  # nothing left: no null
        assert len(last.structured_content["text"]) == 500
    await gateway.aclose()


@pytest.mark.parametrize("status", ["queued", "processing"])
async def test_unfinished_transcript_has_no_text_and_says_to_poll(
    client: Client, respx_mock: respx.MockRouter, status: str
) -> None:
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(200, json=queued(status=status))
    result = await client.call_tool("get_transcript", {"transcript_id": TID})
    assert not result.is_error
    assert result.structured_content["status"] == status
    assert "text" not in result.structured_content
    assert "no text yet" in result.structured_content["next_step"]


async def test_failed_transcript_is_an_error_with_its_reason(
    client: Client, respx_mock: respx.MockRouter
) -> None:
    reason = "Download error to https://foo.bar, 403 Client Error: Forbidden"
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(200, json=queued(status="error", error=reason))
    result = await client.call_tool("get_transcript", {"transcript_id": TID})
    assert result.is_error
    assert result.structured_content["error"] == reason
    assert reason in result.content[0].text  # type: ignore[union-attr]


async def test_429_is_passed_through_once_with_normalized_rate_limit(
    client: Client, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{API}/v2/transcript/{TID}").respond(
        429, json={"error": "Too Many Requests"}, headers={"Retry-After": "7"}
    )
    result = await client.call_tool("get_transcript", {"transcript_id": TID})
    assert result.is_error
    assert route.call_count == 1
    error = error_details(result)
    assert error["status"] == 429 and error["retryable"] is True and error["kind"] == "rate_limited"
    assert error["retry_after_seconds"] == 7
    assert error["ratelimit-reset"] == 7
    assert result.meta is not None
    assert result.meta["aai-mcp/rate_limit"]["retry_after_seconds"] == 7
    assert "Too Many Requests" in result.content[0].text  # type: ignore[union-attr]


async def test_429_with_http_date_retry_after(client: Client, respx_mock: respx.MockRouter) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(
        429,
        json={"error": "Too Many Requests"},
        headers={"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")},
    )
    result = await client.call_tool("get_transcript", {"transcript_id": TID})
    assert 115 <= error_details(result)["retry_after_seconds"] <= 121


async def test_gateway_429_normalizes_x_ratelimit_headers(
    client: Client, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{GATEWAY}/v1/models").respond(json=LISTED)
    route = respx_mock.post(f"{GATEWAY}/v1/chat/completions").respond(
        429,
        json={"error": {"code": 429, "message": "Rate limit exceeded for model", "metadata": {}}},
        headers={"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "42"},
    )
    result = await client.call_tool("llm_chat_completion", {"model": "claude-sonnet-4-6", "prompt": "hi"})
    assert route.call_count == 1
    error = error_details(result)
    assert error["ratelimit-limit"] == 30
    assert error["ratelimit-remaining"] == 0
    assert error["ratelimit-reset"] == 42
    assert error["retry_after_seconds"] == 42
    assert "Rate limit exceeded for model" in error["message"]


async def test_get_is_retried_on_5xx_but_post_never_is(client: Client, respx_mock: respx.MockRouter) -> None:
    get_route = respx_mock.get(f"{API}/v2/transcript/{TID}")
    get_route.side_effect = [httpx.Response(503), httpx.Response(200, json=queued())]
    result = await client.call_tool("get_transcript", {"transcript_id": TID})
    assert not result.is_error and get_route.call_count == 2

    post_route = respx_mock.post(f"{API}/v2/transcript").respond(503)
    failed = await client.call_tool("create_transcript", {"audio_url": "https://e.com/a"})
    assert failed.is_error and post_route.call_count == 1
    assert error_details(failed)["status"] == 503
    assert error_details(failed)["retryable"] is True


async def test_retries_are_bounded(client: Client, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(f"{API}/v2/transcript/{TID}").respond(502, text="bad gateway")
    result = await client.call_tool("get_transcript", {"transcript_id": TID})
    assert result.is_error and route.call_count == 3  # 1 + get_retries (2)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "connection_error"),
        (httpx.RemoteProtocolError("reset"), "connection_error"),
    ],
)
async def test_transport_errors_are_clear_error_results(
    client: Client, respx_mock: respx.MockRouter, exc: Exception, kind: str
) -> None:
    respx_mock.post(f"{API}/v2/transcript").mock(side_effect=exc)
    result = await client.call_tool("create_transcript", {"audio_url": "https://e.com/a"})
    assert result.is_error
    assert error_details(result)["kind"] == kind
    assert error_details(result)["retryable"] is True


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="{not json", headers={"content-type": "application/json"}),
        httpx.Response(200, text="<html>oops</html>", headers={"content-type": "text/html"}),
    ],
)
async def test_malformed_upstream_answers_are_errors(
    client: Client, respx_mock: respx.MockRouter, response: httpx.Response
) -> None:
    respx_mock.get(f"{API}/v2/transcript/{TID}").mock(return_value=response)
    result = await client.call_tool("get_transcript", {"transcript_id": TID})
    assert result.is_error
    assert error_details(result)["kind"] == "bad_response"


async def test_upstream_4xx_message_is_readable(client: Client, respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(404, json={"error": "Transcript not found"})
    result = await client.call_tool("get_transcript", {"transcript_id": TID})
    assert result.is_error
    assert error_details(result)["status"] == 404
    assert error_details(result)["retryable"] is False
    assert "Transcript not found" in result.content[0].text  # type: ignore[union-attr]


async def test_subtitles_and_word_search_requests(client: Client, respx_mock: respx.MockRouter) -> None:
    vtt = "WEBVTT\n\n00:00.000 --> 00:01.000\nHello there.\n"
    srt_route = respx_mock.get(f"{API}/v2/transcript/{TID}/vtt", params={"chars_per_caption": "32"}).respond(
        200, text=vtt, headers={"content-type": "text/html"}
    )
    result = await client.call_tool(
        "get_subtitles", {"transcript_id": TID, "subtitle_format": "vtt", "chars_per_caption": 32}
    )
    assert srt_route.called
    assert result.structured_content == {"format": "vtt", "text": vtt}
    search = respx_mock.get(f"{API}/v2/transcript/{TID}/word-search").respond(
        200,
        json={
            "id": TID,
            "total_count": 1,
            "matches": [{"text": "refund", "count": 1, "timestamps": [[100, 400]], "indexes": [3]}],
        },
    )
    found = await client.call_tool("search_words", {"transcript_id": TID, "words": ["refund", "credit card"]})
    assert search.calls.last.request.url.params["words"] == "refund,credit card"
    assert found.structured_content["total_count"] == 1


async def test_segments_are_paged_within_the_size_cap(respx_mock: respx.MockRouter) -> None:
    sentences = [
        {
            "text": f"Sentence number {i}. " * 10,
            "start": i * 1000,
            "end": i * 1000 + 900,
            "confidence": 0.9,
            "speaker": "A",
            "words": [{"text": "x"}] * 5,
        }
        for i in range(40)
    ]
    respx_mock.get(f"{API}/v2/transcript/{TID}/sentences").respond(
        200, json={"id": TID, "confidence": 0.9, "audio_duration": 40, "sentences": sentences}
    )
    gateway = build_gateway(make_settings(max_result_chars=2000))
    async with Client(build_server(gateway)) as client:
        page = await client.call_tool("get_sentences", {"transcript_id": TID})
        data = page.structured_content
        assert data["total"] == 40 and data["start_index"] == 0
        assert 0 < len(data["items"]) < 40 and data["next_index"] == len(data["items"])
        assert all("words" not in item for item in data["items"])
        assert f"start_index={data['next_index']}" in page.content[0].text  # type: ignore[union-attr]
        rest = await client.call_tool("get_sentences", {"transcript_id": TID, "start_index": 38})
        assert "next_index" not in rest.structured_content  # nothing left: no null
        assert [item["start"] for item in rest.structured_content["items"]] == [38000, 39000]
    await gateway.aclose()


async def test_delete_reports_what_is_gone(client: Client, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.delete(f"{API}/v2/transcript/{TID}").respond(
        200,
        json={
            "id": TID,
            "status": "completed",
            "text": "Deleted by user.",
            "audio_url": "http://deleted_by_user",
        },
    )
    result = await client.call_tool("delete_transcript", {"transcript_id": TID})
    assert route.called and result.structured_content["deleted"] is True


async def test_chat_completion_answer_and_usage(client: Client, respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{GATEWAY}/v1/models").respond(json=LISTED)
    route = respx_mock.post(f"{GATEWAY}/v1/chat/completions").respond(
        200,
        json={
            "request_id": "r1",
            "choices": [
                {
                    "message": {"role": "assistant", "content": "The customer wants a refund."},
                    "finish_reason": "stop",
                }
            ],
            "request": {"model": "claude-sonnet-4-6", "max_tokens": 1000},
            "usage": {"input_tokens": 15, "output_tokens": 8, "total_tokens": 23},
        },
    )
    args = {
        "model": "claude-sonnet-4-6",
        "transcript_id": TID,
        "messages": [{"role": "user", "content": "What does the customer want? {{ transcript }}"}],
    }
    result = await client.call_tool("llm_chat_completion", args)
    assert json.loads(route.calls.last.request.content) == args
    assert route.calls.last.request.headers["authorization"] == CANARY_KEY
    assert result.structured_content["answer"] == "The customer wants a refund."
    assert result.structured_content["usage"]["total_tokens"] == 23
