"""MCP Tasks (2025-11-25) driven by the Python SDK's own tasks client: mcp 2.x has none (it removed the
experimental tasks), mcp 1.x ships one (`ClientSession.experimental`: call_tool_as_task, poll_task,
get_task_result). It runs from its own venv (.cache/mcp1-venv, made by scripts/test) against a
gateway served on loopback whose upstream simulator runs a ten-minute job on a 60x clock: the handle
comes back at once, the polls show the job moving, the result is the completed transcript."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import CANARY_KEY
from tests.test_tasks_ext_client import REAL_JOB_SECONDS, TIME_SCALE, Rig, audio_url, rig_with

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".cache" / "mcp1-venv"
MCP1 = "mcp==1.30.0"  # the newest 1.x: its experimental tasks client speaks 2025-11-25
SCRIPT = Path(__file__).with_name("mcp1_tasks_client.py")


def mcp1_python() -> Path:
    """The venv scripts/test makes (an install step: no test reaches PyPI)."""
    python = VENV / "bin" / "python"
    if not (VENV / f"{MCP1}.installed").exists():
        pytest.fail(f"{MCP1} is not installed in {VENV}: run `bash scripts/test`, which installs it")
    return python


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with rig_with(tmp_path_factory.mktemp("data"), TIME_SCALE) as made:
        yield made


def mcp1_client(url: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    plan = json.dumps({"url": url, "tool": tool, "arguments": arguments})
    done = subprocess.run(
        [str(mcp1_python()), str(SCRIPT)], input=plan, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert CANARY_KEY not in done.stdout
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_the_mcp_1x_tasks_client_runs_transcribe_as_a_task(rig: Rig) -> None:
    run = mcp1_client(rig.alice, "transcribe", {"audio_url": audio_url(rig)})
    assert run["protocolVersion"] == "2025-11-25" and run["serverTasks"], run
    assert run["first"] == "working" and run["taskId"], run
    assert run["handleMs"] < REAL_JOB_SECONDS * 1000 / 2, "the handle came back only after the job"
    messages = {poll["statusMessage"] or "" for poll in run["polls"] if poll["status"] == "working"}
    assert any("status queued" in m for m in messages) and any("status processing" in m for m in messages), (
        run
    )
    assert run["polls"][-1]["status"] == "completed", run["polls"]
    transcript = run["result"]["structuredContent"]
    assert transcript["status"] == "completed" and transcript["text"], transcript
    assert run["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == run["taskId"]
