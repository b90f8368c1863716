"""Every in-process tool result is checked against its full output schema in outputs.yaml.

tools/list carries only an outline of each output schema (its required keys: the catalog's size, issue
17), so the MCP client no longer checks a result's types, optional keys and nesting. This plugin
does, for every test that runs tools through the gateway's runner in this process, and fails the test
at teardown naming the tool and the first mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from aai_mcp.mcp_server.registry.definitions import portable
from aai_mcp.mcp_server.runtime.runner import ToolRunner


@cache
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def mismatch(schema: dict[str, Any], structured: Any) -> str | None:
    error = next(iter(_validator(json.dumps(portable(schema), sort_keys=True)).iter_errors(structured)), None)
    return None if error is None else f"{list(error.absolute_path)}: {error.message[:300]}"


MARKER = "views_replaced"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: the test replaces the views with synthetic ones, so its results are not checked "
        "against outputs.yaml",
    )


@pytest.fixture(autouse=True)
def results_match_their_full_output_schema(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[None]:
    if request.node.get_closest_marker(MARKER) is not None:
        yield
        return
    found: list[str] = []
    original = ToolRunner._call

    async def checked(self: ToolRunner, name: str, *args: Any, **kwargs: Any) -> Any:
        result, status = await original(self, name, *args, **kwargs)
        if result.structured_content is not None:
            spec = self.registry.specs[name]
            problem = mismatch(self.registry.catalog.outputs[spec.output], result.structured_content)
            if problem:
                found.append(f"{name}: {problem}")
        return result, status

    monkeypatch.setattr(ToolRunner, "_call", checked)
    yield
    assert not found, f"results that do not match their output schema in outputs.yaml: {found[:3]}"
