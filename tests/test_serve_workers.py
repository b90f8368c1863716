"""`aai-mcp serve --workers 2 --stateless`, real processes on loopback: the workers share the calls of
several clients, a worker that dies is started again, SIGTERM and SIGINT stop every worker, a worker
that cannot start stops the supervisor, and what cannot run in several processes is refused.

The upstream is one standalone `aai-mcp simulate`, as several instances would share the real API.
Which process answered: the X-AAI-MCP-Instance header (a random name per process), and the
supervisor's child processes read from /proc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from aai_mcp.access import Scopes, mint
from tests.support.raw_mcp import HEADERS, VERSION, call, messages
from tests.support.redis import RedisServer
from tests.support.servers import (
    SIM_KEY,
    STARTUP_TIMEOUT,
    ServerProcess,
    aai_mcp_command,
    aai_mcp_process,
    clean_env,
    free_port,
    simulator_env,
    standalone_simulator,
    upstream_args,
    wait_until,
)

pytestmark = pytest.mark.slow

CLIENTS = 8
MIN_CALLS = 40
STOP_TIMEOUT = 60.0
TOKEN_SECRET = "workers-test-signing-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def simulator() -> Iterator[ServerProcess]:
    with standalone_simulator("--simulator-delay-seconds", "0") as sim:
        yield sim


@pytest.fixture(scope="module")
def transcript_id(simulator: ServerProcess) -> str:
    body = {"audio_url": "https://example.com/workers.mp3", "speech_models": ["universal-3-pro"]}
    headers = {"Authorization": SIM_KEY}
    answer = httpx.post(f"{simulator.base_url}/v2/transcript", json=body, headers=headers, timeout=30)
    return str(answer.raise_for_status().json()["id"])


def workers(
    simulator: ServerProcess, *flags: str, env: dict[str, str] | None = None
) -> AbstractContextManager[ServerProcess]:
    args = ("--workers", "2", "--stateless", "--json-response", *upstream_args(simulator.base_url), *flags)
    return aai_mcp_process("serve", *args, env=env or simulator_env())


def children(pid: int) -> dict[int, str]:
    """The live child processes of `pid`, each with its start time (a pid reused later differs)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue  # ended while we looked
        fields = raw[raw.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(stat.parent.name)] = fields[19]
    return found


def alive(pid: int, started: str) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[19] == started and fields[0] != "Z"


def two_workers(server: ServerProcess) -> dict[int, str]:
    wait_until(lambda: len(children(server.pid)) == 2, what="two worker processes")
    return children(server.pid)


def post_call(base_url: str, transcript_id: str, request_id: int, token: str | None = None) -> httpx.Response:
    """One get_transcript on a connection of its own, so the kernel picks a worker for each call."""
    headers = {**HEADERS, "MCP-Protocol-Version": VERSION, "Connection": "close"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = call(request_id, "get_transcript", transcript_id=transcript_id)
    return httpx.post(f"{base_url}/mcp", json=body, headers=headers, timeout=60)


def call_once(base_url: str, transcript_id: str, request_id: int, token: str | None = None) -> str:
    """A get_transcript that succeeds; the name of the process that answered."""
    answer = post_call(base_url, transcript_id, request_id, token)
    assert answer.status_code == 200, answer.text
    assert SIM_KEY not in answer.text and SIM_KEY not in str(answer.headers)
    (message,) = messages(answer)
    result = message["result"]
    assert not result.get("isError"), result
    assert transcript_id in result["content"][0]["text"]
    return answer.headers["x-aai-mcp-instance"]


def spread_calls(
    base_url: str, transcript_id: str, until_seen: set[str] | None = None, token: str | None = None
) -> dict[str, int]:
    """Calls from CLIENTS concurrent clients, at least MIN_CALLS, and on until two processes answered
    (and every name in `until_seen` did): calls per process name."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with ThreadPoolExecutor(CLIENTS) as pool:
        while True:
            batch = pool.map(lambda n: call_once(base_url, transcript_id, n, token), range(CLIENTS * 5))
            for name in batch:
                counts[name] = counts.get(name, 0) + 1
            done = sum(counts.values()) >= MIN_CALLS and len(counts) >= 2
            if done and (until_seen is None or until_seen <= counts.keys()):
                return counts
            assert time.monotonic() < deadline, f"calls reached only {counts}"


def stop_with(server: ServerProcess, sig: signal.Signals) -> int:
    server.process.send_signal(sig)
    return server.process.wait(timeout=STOP_TIMEOUT)


def test_two_workers_serve_several_clients_and_sigterm_stops_them_all(
    simulator: ServerProcess, transcript_id: str
) -> None:
    with workers(simulator) as server:
        pids = two_workers(server)
        assert server.pid not in pids
        counts = spread_calls(server.base_url, transcript_id)
        assert len(counts) == 2, counts  # two processes answered, and no third one
        assert sum(counts.values()) >= MIN_CALLS
        assert stop_with(server, signal.SIGTERM) == 0
        wait_until(lambda: not any(alive(pid, started) for pid, started in pids.items()), what="workers gone")
        log = server.stderr()
    assert "in 2 worker processes" in log
    assert log.count("Application shutdown complete") == 2  # each worker drained, none was killed
    assert SIM_KEY not in log


def test_a_worker_that_dies_is_started_again_and_sigint_stops_them_all(
    simulator: ServerProcess, transcript_id: str
) -> None:
    with workers(simulator, "--instance-id", "pod") as server:
        pids = two_workers(server)
        assert set(spread_calls(server.base_url, transcript_id)) == {"pod-0", "pod-1"}
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(children(server.pid)) == 2 and victim not in children(server.pid))
        replaced = children(server.pid)
        assert spread_calls(server.base_url, transcript_id, {"pod-0", "pod-1"}).keys() == {"pod-0", "pod-1"}
        assert stop_with(server, signal.SIGINT) == 0
        wait_until(lambda: not any(alive(pid, started) for pid, started in replaced.items()))
        log = server.stderr()
    assert f"(pid {victim}) exited with code -9; starting it again" in log


def test_the_supervisor_stops_and_its_workers_end_when_it_is_killed(simulator: ServerProcess) -> None:
    with workers(simulator) as server:
        pids = two_workers(server)
        server.process.kill()
        server.process.wait(timeout=STOP_TIMEOUT)
        # Each worker reads an end of file on the pipe only the supervisor wrote to, and stops itself.
        wait_until(lambda: not any(alive(pid, started) for pid, started in pids.items()), what="orphans gone")


def test_workers_share_the_store_and_redis_a_token_revoked_once_is_refused_by_both(
    simulator: ServerProcess, transcript_id: str, shared_redis: RedisServer
) -> None:
    """Tokens need shared limits (Redis) in workers; the store is SQLite in the data directory, one
    file every worker opens (WAL), as `aai-mcp token revoke` does."""
    env = simulator_env(AAI_MCP_REDIS_URL=shared_redis.url, AAI_MCP_TOKEN_SECRETS=TOKEN_SECRET)
    token = mint(TOKEN_SECRET.encode(), name="workers", scopes=Scopes(), expires_at=time.time() + 3600).token
    with workers(simulator, "--auth", "tokens", "--instance-id", "pod", env=env) as server:
        two_workers(server)
        assert post_call(server.base_url, transcript_id, 1).status_code == 401
        assert set(spread_calls(server.base_url, transcript_id, token=token)) == {"pod-0", "pod-1"}
        revoke = [sys.executable, "-m", "aai_mcp", "token", "revoke", token, "--reason", "workers test"]
        done = subprocess.run(revoke, env=env, capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
        assert done.returncode == 0, done.stderr
        refused_by: set[str] = set()

        def both_refuse() -> bool:
            answer = post_call(server.base_url, transcript_id, 2, token)
            if answer.status_code == 401 and answer.json()["error"]["code"] == "revoked":
                refused_by.add(answer.headers["x-aai-mcp-instance"])
            return refused_by == {"pod-0", "pod-1"}

        wait_until(both_refuse, what="both workers refusing the revoked token")
        log = server.stderr()
    assert token not in log and TOKEN_SECRET not in log


def test_a_worker_that_cannot_start_stops_the_supervisor_with_1(
    simulator: ServerProcess, tmp_path: Path
) -> None:
    # A broken extraction kit is found where the gateway is built: in each worker, after the
    # supervisor's own checks passed; every restart would fail the same way.
    (tmp_path / "broken.yaml").write_text("this: [is not a kit\n")
    port = free_port()
    command = aai_mcp_command(
        "serve", port, "--workers", "2", "--stateless", "--extraction-kits-dir", str(tmp_path),
        *upstream_args(simulator.base_url),
    )  # fmt: skip
    finished = subprocess.run(command, env=simulator_env(), capture_output=True, timeout=STARTUP_TIMEOUT)
    err = finished.stderr.decode()
    assert finished.returncode == 1, err[-3000:]
    assert "before it served; stopping every worker" in err


def test_the_built_in_simulator_is_refused_with_2_before_anything_starts() -> None:
    """One refusal through a real process (tests/test_worker_rules.py has each rule, through `main`)."""
    command = aai_mcp_command("serve", free_port(), "--workers", "2", "--stateless")
    finished = subprocess.run(command, env=clean_env(), capture_output=True, timeout=STARTUP_TIMEOUT)
    err = finished.stderr.decode()
    assert finished.returncode == 2, err[-3000:]
    assert "need ASSEMBLYAI_API_KEY" in err and "Traceback" not in err
    assert "serving" not in err  # refused before it bound or announced anything
