"""search_api_reference and get_api_reference through the SDK client: the hits an agent needs, compact
and bounded answers, and no upstream request at all."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx
from mcp.client import Client

from aai_mcp.api_reference.compact_answers import MAX_ANSWER_CHARACTERS
from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from tests.support import CANARY_KEY, make_settings, text_of

pytestmark = pytest.mark.anyio


async def call(tool: str, args: dict[str, Any]) -> Any:
    gateway = build_gateway(make_settings())
    try:
        async with Client(build_server(gateway)) as client:
            return await client.call_tool(tool, args)
    finally:
        await gateway.aclose()


async def hits(query: str, limit: int = 5) -> list[dict[str, Any]]:
    result = await call("search_api_reference", {"query": query, "limit": limit})
    assert not result.is_error, text_of(result)
    found: list[dict[str, Any]] = result.structured_content["hits"]
    return found


async def test_speaker_labels_finds_create_transcript_and_the_parameter(respx_mock: respx.MockRouter) -> None:
    first = (await hits("speaker labels"))[0]
    assert (first["method"], first["path"], first["host"]) == ("POST", "/v2/transcript", "api")
    assert first["matching_parameters"][0] == "speaker_labels"
    assert not respx_mock.calls  # local: nothing goes upstream


async def test_temporary_token_finds_the_streaming_token_endpoint(respx_mock: respx.MockRouter) -> None:
    first = (await hits("temporary token"))[0]
    assert (first["method"], first["path"], first["host"]) == ("GET", "/v3/token", "streaming")


async def test_llm_gateway_finds_the_gateway_endpoints(respx_mock: respx.MockRouter) -> None:
    found = await hits("LLM gateway", limit=2)
    assert {hit["path"] for hit in found} == {"/v1/chat/completions", "/v1/understanding"}
    assert {hit["host"] for hit in found} == {"llm_gateway"}


@pytest.mark.parametrize(("query", "product"), [("text to speech", "tts"), ("dictation", "dictation")])
async def test_products_the_specs_lack_are_found(
    respx_mock: respx.MockRouter, query: str, product: str
) -> None:
    result = await call("search_api_reference", {"query": query})
    assert result.structured_content["products"][0] == product
    overview = await call("get_api_reference", {"endpoint_or_product": product})
    assert (
        overview.structured_content["product"] == product
        and "ENDPOINTS-SDK" in overview.structured_content["source"]
    )


async def test_limit_bounds_the_hits(respx_mock: respx.MockRouter) -> None:
    assert len(await hits("transcript", limit=2)) == 2
    # The widest search: every endpoint, at most 6 parameter names each, still a few kilobytes.
    widest = await call(
        "search_api_reference", {"query": "transcript id speech audio token model " * 5, "limit": 20}
    )
    assert len(text_of(widest)) < 6000
    assert all(len(hit.get("matching_parameters", [])) <= 6 for hit in widest.structured_content["hits"])
    too_many = await call("search_api_reference", {"query": "transcript", "limit": 21})
    assert too_many.is_error


async def test_an_endpoint_by_operation_id_is_compact_and_says_what_is_required(
    respx_mock: respx.MockRouter,
) -> None:
    result = await call("get_api_reference", {"endpoint_or_product": "createTranscript"})
    entry = result.structured_content
    required = {p["name"] for p in entry["parameters"] if p.get("required")}
    assert {"audio_url", "speech_models"} <= required
    speaker_labels = next(p for p in entry["parameters"] if p["name"] == "speaker_labels")
    assert speaker_labels == {"name": "speaker_labels", "in": "body", "type": "boolean"}
    assert "status" in entry["response_fields"]
    assert len(text_of(result)) < 8000


async def test_detail_adds_descriptions_and_stays_bounded(respx_mock: respx.MockRouter) -> None:
    result = await call("get_api_reference", {"endpoint_or_product": "POST /v2/transcript", "detail": True})
    entry = result.structured_content
    assert any("description" in p for p in entry["parameters"] if not p.get("required"))
    assert len(json.dumps(entry, ensure_ascii=False)) <= MAX_ANSWER_CHARACTERS
    assert entry.get("parameters_omitted", 0) > 0  # the full spec does not fit: the answer says so


async def test_a_product_overview(respx_mock: respx.MockRouter) -> None:
    result = await call("get_api_reference", {"endpoint_or_product": "streaming"})
    entry = result.structured_content
    assert entry["product"] == "streaming" and "Terminate" in entry["summary"]
    assert entry["endpoints"][0]["endpoint"] == "generateStreamingToken"


async def test_an_unknown_name_is_an_input_error_pointing_at_search(respx_mock: respx.MockRouter) -> None:
    result = await call("get_api_reference", {"endpoint_or_product": f"lemur {CANARY_KEY}"})
    assert result.is_error
    assert "search_api_reference" in text_of(result) and "pre-recorded" in text_of(result)
    assert CANARY_KEY not in text_of(result)
