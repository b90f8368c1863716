"""A plain tool for an endpoint the simulator serves takes one YAML entry and no Python: a copy of
tool_schemas/ gets one new entry (and its output schema), and that catalog alone yields the tool's
MCP definition, a call the simulator answers, a clean check against AssemblyAI's OpenAPI spec,
the whole fault matrix and its README row (CONTRIBUTING.md walks through the same steps)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator
from mcp.client import Client

from aai_mcp.catalog import Catalog, default_schema_dir, load_catalog
from aai_mcp.cli.readme_tables import tool_table
from aai_mcp.gateway import build_gateway, load_default_catalog
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.handlers.handler_table import HANDLER_CALLS
from aai_mcp.mcp_server.registry.definitions import outline
from aai_mcp.mcp_server.views.view_table import VIEWS
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, make_settings
from tests.support.faults import TRANSCRIPT_BODY
from tests.support.spec_reference import specs
from tests.test_fault_matrix import FAULTS, Fault, Live, check_fault, fast_gateways, live, spec_targets
from tests.test_spec_conformance import all_problems

pytestmark = pytest.mark.anyio

# The fault matrix's fixtures: its simulator on a loopback socket, and its fast gateway set-up.
__all__ = ["fast_gateways", "live"]

NAME = "get_transcript_status"
# The new entry, as a contributor would write it: nothing here exists in tool_schemas/ yet.
ENTRY = """\
tools:
  - name: get_transcript_status
    title: Get a transcript's status
    toolset: transcripts
    method: GET
    host: api
    path: /v2/transcript/{transcript_id}
    response: json
    output: transcript_status
    description: >-
      Read whether a transcript job is queued, processing, completed or error, with the whole job
      as AssemblyAI returns it. When it is completed, read it with get_paragraphs next.
    annotations: {readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true}
    effects: [read]
    params:
      path:
        transcript_id:
          type: string
          required: true
          pattern: "^[A-Za-z0-9_-]{1,128}$"
          description: The transcript id returned by create_transcript.
"""
OUTPUT = """
  transcript_status:
    type: object
    required: [id, status]
    properties:
      id: {type: string}
      status: {type: string, enum: [queued, processing, completed, error]}
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    directory = tmp_path_factory.mktemp("tool_schemas")
    shutil.copytree(default_schema_dir(), directory, dirs_exist_ok=True)
    (directory / "status.yaml").write_text(ENTRY, encoding="utf-8")
    with (directory / "outputs.yaml").open("a", encoding="utf-8") as outputs:
        outputs.write(OUTPUT)
    return load_catalog(directory, handlers=HANDLER_CALLS, views=VIEWS.keys())


def test_the_entry_is_new_and_needs_no_handler(catalog: Catalog) -> None:
    assert NAME not in load_default_catalog().tools, "the tool exists now: pick another name"
    assert catalog.tools[NAME].handler is None and catalog.sources[NAME] == "status.yaml"


async def test_definition_and_a_call_the_simulator_answers(catalog: Catalog) -> None:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))
    gateway = build_gateway(make_settings(), transport=httpx.ASGITransport(app=app), catalog=catalog)
    try:
        async with Client(build_server(gateway)) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            definition = tools[NAME]
            assert definition.input_schema["required"] == ["transcript_id"]
            # Listed as its outline; the result is checked against the whole schema below.
            assert definition.output_schema == outline(catalog.outputs["transcript_status"])
            assert definition.annotations is not None and definition.annotations.read_only_hint is True
            created = await client.call_tool("create_transcript", TRANSCRIPT_BODY)
            transcript_id = created.structured_content["id"]
            result = await client.call_tool(NAME, {"transcript_id": transcript_id})
    finally:
        await gateway.aclose()
    assert not result.is_error, result.content
    assert result.structured_content is not None and result.structured_content["id"] == transcript_id
    Draft202012Validator(catalog.outputs["transcript_status"]).validate(result.structured_content)
    assert app.state.simulator.requests[-1].route == "GET /v2/transcript/{transcript_id}"


def test_it_conforms_to_the_openapi_spec(catalog: Catalog) -> None:
    assert all_problems(catalog.tools[NAME], specs()) == []


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
async def test_the_fault_matrix_holds_for_it(live: Live, catalog: Catalog, fault: Fault) -> None:
    (target,) = [target for target in spec_targets(catalog) if target.tool == NAME]
    await check_fault(live, target, fault, catalog)


def test_its_readme_row(catalog: Catalog) -> None:
    row = (
        f"| `{NAME}` | transcripts | `GET api:/v2/transcript/{{transcript_id}}` | read | yes "
        "| Get a transcript's status |"
    )
    assert row in tool_table(catalog).splitlines()


def test_a_broken_entry_fails_at_load(tmp_path: Path) -> None:
    """The same copy with the output schema left out: the loader names the file and the entry."""
    shutil.copytree(default_schema_dir(), tmp_path, dirs_exist_ok=True)
    (tmp_path / "status.yaml").write_text(ENTRY, encoding="utf-8")
    with pytest.raises(ValueError, match=r"status\.yaml: entry 0 \(get_transcript_status\): unknown output"):
        load_catalog(tmp_path, handlers=HANDLER_CALLS, views=VIEWS.keys())
