"""MCP Tasks survive the instance that ran them (issue 18): a task started through one `aai-mcp serve`
process, which is then killed (SIGKILL: no drain, no goodbye), is fetched through a second process
sharing the store; the second resumes waiting for the transcript the first had created, and the
@modelcontextprotocol/ext-tasks client gets the completed result by task id. The job is ten simulated
minutes (600 s on a simulator clock 40 times as fast: 15 real seconds)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from pydantic import SecretStr

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
from tests.support.stores import StoreConfig
from tests.test_tasks_ext_client import GENERATIONS, ext_tasks, start

pytestmark = pytest.mark.slow
SECRET = "tasks-kill-signing-secret-0123456789abcdef"
JOB_SECONDS = "600"
TIME_SCALE = "40"


def serve(stack: ExitStack, simulator: ServerProcess, store: StoreConfig) -> ServerProcess:
    env = simulator_env(
        **store.env(),
        AAI_MCP_TOKEN_SECRETS=SECRET,
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
    with standalone_simulator(
        "--simulator-delay-seconds", JOB_SECONDS, "--simulator-time-scale", TIME_SCALE
    ) as running:
        yield running


# SIGKILL: the instance vanishes mid-wait. SIGTERM: it drains, and a wait it cut short must leave the
# task working (never "completed" with a timed-out transcript) for another instance to finish.
# The instances share a SQLite file, or (the scale-out case) a PostgreSQL database.
CASES = [(generation, "kill", "sqlite") for generation in GENERATIONS] + [
    ("v1", "terminate", "sqlite"),
    ("v1", "kill", "postgresql"),
]


@pytest.mark.parametrize(("generation", "how", "engine"), CASES)
def test_a_task_of_a_stopped_instance_is_finished_by_another(
    simulator: ServerProcess, generation: str, how: str, engine: str, request: pytest.FixtureRequest
) -> None:
    token = mint(SECRET.encode(), name="alice", scopes=Scopes(), expires_at=None).token
    with tempfile.TemporaryDirectory() as data, ExitStack() as stack:
        store = StoreConfig(Path(data), None)
        if engine == "postgresql":
            database = request.getfixturevalue("postgres_server").new_database()
            store = StoreConfig(Path(data), SecretStr(database))
            store.open(auto_upgrade=True).close()  # PostgreSQL is upgraded deliberately
        first, second = serve(stack, simulator, store), serve(stack, simulator, store)
        audio = {"audio_url": "https://example.org/call.wav"}
        (started,) = ext_tasks(f"{first.base_url}/mcp/t/{token}", start(**audio), generation=generation)
        assert started["kind"] == "task" and started["first"]["status"] == "working", started
        getattr(first.process, how)()
        first.process.wait(timeout=30)
        (fetched,) = ext_tasks(
            f"{second.base_url}/mcp/t/{token}",
            {"do": "fetch", "taskId": started["taskId"]},
            generation=generation,  # the same generation's client, as a user's would be
        )
        assert fetched["status"] == "completed", (fetched, second.stderr()[-3000:])
        assert fetched["result"]["structuredContent"]["status"] == "completed"
        assert "resumed" in second.stderr()
