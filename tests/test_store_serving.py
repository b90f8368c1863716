"""The store end to end, on SQLite and PostgreSQL: `aai-mcp db upgrade`, two `aai-mcp serve --auth
tokens` processes on one store, a revocation made with `aai-mcp token revoke` refused by both, and a
restarted instance that still refuses it. The database password appears in no output."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from aai_mcp.access import Scopes, mint
from tests.support.servers import ServerProcess, clean_env, serve_in_process
from tests.support.stores import StoreConfig

pytestmark = pytest.mark.slow

SECRET = "serving-store-secret-0123456789abcdef"
DEADLINE_SECONDS = 30.0  # generous for a loaded machine; the figure printed is what matters
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_transcripts"}}


def aai_mcp(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "aai_mcp", *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def refusal(server: ServerProcess, token: str) -> str | None:
    headers = {**MCP_HEADERS, "authorization": f"Bearer {token}"}
    response = httpx.post(f"{server.base_url}/mcp", json=LIST, headers=headers, timeout=30)
    if response.status_code in (401, 403, 503):
        return str(response.json()["error"]["code"])
    return None


def refused_everywhere(servers: list[ServerProcess], token: str) -> float:
    """Seconds until every server refuses `token` as revoked (polled: the servers are other processes)."""
    started = time.monotonic()
    pending = list(servers)
    while pending:
        pending = [server for server in pending if refusal(server, token) != "revoked"]
        if time.monotonic() - started > DEADLINE_SECONDS:
            raise AssertionError(f"still accepted after {DEADLINE_SECONDS} s by {len(pending)} instance(s)")
        time.sleep(0.01)
    return time.monotonic() - started


def test_two_instances_refuse_a_cli_revocation_and_a_restart_keeps_it(store_config: StoreConfig) -> None:
    env = clean_env(AAI_MCP_TOKEN_SECRETS=SECRET, **store_config.env())
    upgraded = aai_mcp(env, "db", "upgrade")
    assert upgraded.returncode == 0 and "schema version" in upgraded.stdout, upgraded.stderr
    current = aai_mcp(env, "db", "current")
    assert current.returncode == 0 and "(the newest)" in current.stdout, current.stderr
    token = mint(SECRET.encode(), name="e2e", scopes=Scopes(), expires_at=None)
    serve = ("--auth", "tokens", "--simulator-delay-seconds", "0")
    outputs = [upgraded.stdout + upgraded.stderr, current.stdout + current.stderr]
    with serve_in_process(*serve, env=env) as first, serve_in_process(*serve, env=env) as second:
        assert [refusal(first, token.token), refusal(second, token.token)] == [None, None]
        revoked = aai_mcp(env, "token", "revoke", token.token, "--reason", "e2e")
        assert revoked.returncode == 0 and "revoked in the store" in revoked.stdout, revoked.stderr
        latency = refused_everywhere([first, second], token.token)
        print(f"{store_config.engine}: both instances refused it {latency:.3f} s after the CLI returned")
        outputs += [revoked.stdout + revoked.stderr, first.stderr(), second.stderr()]
    with serve_in_process(*serve, env=env) as restarted:
        assert refusal(restarted, token.token) == "revoked"
        outputs.append(restarted.stderr())
    if store_config.database_url is not None:
        password = store_config.password()
        assert all(password not in output for output in outputs)
