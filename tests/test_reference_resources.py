"""The integration notes as an MCP resource: listed first, readable in full, and only for a caller who
may use the reference tools."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import TextResourceContents

from aai_mcp.api_reference import notes_text
from aai_mcp.mcp_server.reference_notes import NOTES_URI
from tests.support import CANARY_KEY
from tests.test_access_composite import in_memory

pytestmark = pytest.mark.anyio

RULES = ("Bearer", "speech_models", "LLM Gateway", "Terminate", "temporary token")


def test_every_rule_names_its_source() -> None:
    sections = notes_text().split("\n## ")[1:]
    assert len(sections) == 5
    for section in sections:
        rules = [line for line in section.splitlines() if line.startswith("- ")]
        assert rules, section
        for rule in section.split("\n- ")[1:]:
            assert "ENDPOINTS" in rule, rule  # ENDPOINTS.md or ENDPOINTS-SDK-2026-10.md, with a section


async def test_the_notes_are_listed_and_read() -> None:
    async with in_memory() as (client, simulator):
        listed = await client.list_resources()
        before = len(simulator.requests)
        result = await client.read_resource(NOTES_URI)
    assert len(simulator.requests) == before  # read from the package, never upstream
    assert listed.resources[0].uri == NOTES_URI and listed.resources[0].mime_type == "text/markdown"
    (content,) = result.contents
    assert isinstance(content, TextResourceContents) and content.mime_type == "text/markdown"
    assert content.text == notes_text()
    assert all(rule in content.text for rule in RULES)
    assert CANARY_KEY not in content.text


@pytest.mark.parametrize("settings", [{"tools": ["get_transcript"]}, {"toolsets": ["transcripts"]}])
async def test_a_server_without_the_reference_neither_lists_nor_reads_the_notes(
    settings: dict[str, list[str]],
) -> None:
    async with in_memory(**settings) as (client, _):
        listed = await client.list_resources()
        with pytest.raises(MCPError) as refused:
            await client.read_resource(NOTES_URI)
    assert NOTES_URI not in {str(resource.uri) for resource in listed.resources}
    assert "Unknown resource URI" in refused.value.error.message
