"""MCP Tasks survive the instance that ran them (issue 18): a task started through one `aai-mcp serve`
process, which is then killed (SIGKILL: no drain, no goodbye), is fetched through a second process
sharing the store; the second resumes waiting for the transcript the first had created, and the
@modelcontextprotocol/ext-tasks client gets the completed result by task id."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from aai_mcp.access import Scopes, mint
from tests.support.servers import (
    ServerProcess,
    aai_mcp_command,
    free_port,
    server_process,
    simulator_env,
    standalone_simulator,
    upstream_args,
)
from tests.test_tasks_ext_client import GENERATIONS, ext_tasks, start

pytestmark = pytest.mark.slow
SECRET = "tasks-kill-signing-secret-0123456789abcdef"
JOB_SECONDS = "15"


def serve(stack: ExitStack, simulator: ServerProcess, data_dir: Path) -> ServerProcess:
    env = simulator_env(
        AAI_MCP_TOKEN_SECRETS=SECRET,
        AAI_MCP_DATA_DIR=str(data_dir),
        AAI_MCP_TASK_HEARTBEAT_SECONDS="1",
        AAI_MCP_TASK_STALE_SECONDS="3",
        AAI_MCP_WAIT_POLL_INITIAL_SECONDS="0.2",
        AAI_MCP_WAIT_POLL_MAX_SECONDS="0.5",
    )
    port = free_port()
    command = aai_mcp_command("serve", port, "--auth", "tokens", *upstream_args(simulator.base_url))
    return stack.enter_context(server_process(command, port, env))


@pytest.fixture
def simulator() -> Iterator[ServerProcess]:
    with standalone_simulator("--simulator-delay-seconds", JOB_SECONDS) as running:
        yield running


# SIGKILL: the instance vanishes mid-wait. SIGTERM: it drains, and a wait it cut short must leave the
# task working (never "completed" with a timed-out transcript) for another instance to finish.
CASES = [(generation, "kill") for generation in GENERATIONS] + [("v1", "terminate")]


@pytest.mark.parametrize(("generation", "how"), CASES)
def test_a_task_of_a_stopped_instance_is_finished_by_another(
    simulator: ServerProcess, generation: str, how: str
) -> None:
    token = mint(SECRET.encode(), name="alice", scopes=Scopes(), expires_at=None).token
    with tempfile.TemporaryDirectory() as data, ExitStack() as stack:
        first, second = serve(stack, simulator, Path(data)), serve(stack, simulator, Path(data))
        audio = {"audio_url": "https://example.org/call.wav"}
        (started,) = ext_tasks(f"{first.base_url}/mcp/t/{token}", start(**audio), generation=generation)
        assert started["kind"] == "task" and started["first"]["status"] == "working", started
        getattr(first.process, how)()
        first.process.wait(timeout=30)
        (fetched,) = ext_tasks(
            f"{second.base_url}/mcp/t/{token}", {"do": "fetch", "taskId": started["taskId"]}
        )
        assert fetched["status"] == "completed", (fetched, second.stderr()[-3000:])
        assert fetched["result"]["structuredContent"]["status"] == "completed"
        assert "resumed" in second.stderr()
