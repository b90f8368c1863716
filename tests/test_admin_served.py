"""The admin API over real HTTP against two `aai-mcp serve --auth tokens` processes sharing one store
(SQLite file, then PostgreSQL), upstream a standalone simulator holding the canary key: an admin token
minted by the CLI (and so recorded), a token issued through the API, used by the mcp SDK client (the
URL with the token in the path on one instance, a bearer on the other), listed with its last use (the
API and `aai-mcp token list --json` agree), revoked on one instance and refused at once there and
within the revocation feed's refresh on the other. No admin answer holds the upstream key."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY
from tests.support.servers import (
    ServerProcess,
    aai_mcp_command,
    answers_healthz,
    clean_env,
    free_port,
    serve_app_in_thread,
    stop,
    upstream_args,
    wait_until,
)
from tests.support.stores import StoreConfig

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

SECRET = "admin-served-secret-0123456789abcdef"
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}
    },
}  # fmt: skip
STARTUP_SECONDS = 120.0
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@dataclass
class Deployment:
    first: ServerProcess
    second: ServerProcess
    env: dict[str, str]


@pytest.fixture
def deployment(store_config: StoreConfig, tmp_path: Path) -> Iterator[Deployment]:
    store_config.open(auto_upgrade=True).close()  # `aai-mcp db upgrade` (PostgreSQL needs it once)
    env = clean_env(AAI_MCP_TOKEN_SECRETS=SECRET, ASSEMBLYAI_API_KEY=CANARY_KEY, **store_config.env())
    with ExitStack() as stack:
        # In a thread of this process: one fewer interpreter to start on a loaded machine.
        config = SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0)
        simulator_url = stack.enter_context(serve_app_in_thread(build_simulator_app(config)))
        servers = [stack.enter_context(started_gateway(simulator_url, env, tmp_path, n)) for n in range(2)]
        for server in servers:  # both start at once; each gets a generous deadline on a loaded machine
            wait_until(lambda s=server: healthy(s), timeout=STARTUP_SECONDS, what="aai-mcp serve /healthz")
        yield Deployment(servers[0], servers[1], env)


@contextmanager
def started_gateway(simulator_url: str, env: dict[str, str], tmp: Path, n: int) -> Iterator[ServerProcess]:
    port = free_port()
    command = aai_mcp_command("serve", port, "--auth", "tokens", *upstream_args(simulator_url))
    log_path = tmp / f"serve-{n}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        yield ServerProcess(f"http://127.0.0.1:{port}", process, log_path)
    finally:
        stop(process)


def healthy(server: ServerProcess) -> bool:
    if server.process.poll() is not None:
        raise RuntimeError(f"aai-mcp serve exited: {server.stderr()[-4000:]}")
    return answers_healthz(server.base_url)


def cli(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "aai_mcp", *argv], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def admin_answer(response: httpx.Response) -> dict[str, Any]:
    shown = response.text + str(response.headers)
    assert CANARY_KEY not in shown and response.headers["cache-control"] == "no-store"
    return dict(response.json())


async def call_tool(url: str, headers: dict[str, str] | None = None) -> bool:
    """Whether list_transcripts answered without error, through the SDK client."""
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120))
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        result = await client.call_tool("list_transcripts", {})
    return not result.is_error


def refusal(base_url: str, token: str) -> str | None:
    answer = httpx.post(
        f"{base_url}/mcp", json=INIT, headers={**MCP_HEADERS, "authorization": f"Bearer {token}"}
    )
    return None if answer.status_code == 200 else str(answer.json()["error"]["code"])


async def test_issue_use_list_revoke_across_instances(deployment: Deployment) -> None:
    first, second = deployment.first, deployment.second
    printed = cli(deployment.env, "token", "mint", "--name", "provisioner", "--admin", "--expires", "1h")
    admin = next(line.split()[1] for line in printed.splitlines() if line.startswith("token:"))
    admin_headers = {"authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=first.base_url, headers=admin_headers, timeout=30) as api:
        assert (
            httpx.post(f"{first.base_url}/mcp/t/{admin}", json=INIT, headers=MCP_HEADERS).status_code == 401
        )
        issued = api.post("/admin/v1/tokens", json={
            "name": "team-a bot", "toolsets": ["transcripts"], "read_only": True,
            "expires_at": int(time.time()) + 86400,
        })  # fmt: skip
        assert issued.status_code == 201, issued.text
        answer = admin_answer(issued)
        token, token_id = str(answer["token"]), str(answer["id"])
        assert answer["mcp_url_with_token"] == f"{first.base_url}/mcp/t/{token}"

        with anyio.fail_after(180):
            assert await call_tool(str(answer["mcp_url_with_token"]))
            assert await call_tool(f"{second.base_url}/mcp", {"authorization": f"Bearer {token}"})

        listed = admin_answer(api.get("/admin/v1/tokens"))["tokens"]
        assert isinstance(listed, list)
        mine = next(entry for entry in listed if entry["id"] == token_id)
        assert mine["last_used_at"] is not None and mine["creator"].startswith("admin-api:tok_")
        assert "aai1." not in json.dumps(listed)
        from_cli = json.loads(cli(deployment.env, "token", "list", "--json"))["tokens"]
        assert {e["id"]: e["name"] for e in from_cli} == {e["id"]: e["name"] for e in listed}
        assert any(e["name"] == "provisioner" and e["scopes"].get("admin") for e in from_cli)

        revoked = api.delete(f"/admin/v1/tokens/{token_id}")
        assert revoked.status_code == 200 and admin_answer(revoked)["revoked"] is True
        assert refusal(first.base_url, token) == "revoked"  # at once where it was revoked
        # The other instance follows the store's revocations twice a second: a deadline, not a sleep.
        wait_until(lambda: refusal(second.base_url, token) == "revoked", timeout=30, what="revoked on B")
        listed_after = admin_answer(api.get("/admin/v1/tokens"))["tokens"]
        assert next(e for e in listed_after if e["id"] == token_id)["state"] == "revoked"
        grants = admin_answer(api.get("/admin/v1/grants"))
        assert grants == {"grants": []}
