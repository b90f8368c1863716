"""`aai-mcp simulate`: its /_sim/ admin routes need its key and a loopback Host, it binds loopback unless
told otherwise on its own command line, warns loudly when told otherwise, and its help is its own."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from aai_mcp.cli.main import build_parser, load_command
from aai_mcp.config.command_options import SimulateOptions
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from tests.support.servers import ServerProcess, aai_mcp_process, clean_env, stop

pytestmark = pytest.mark.anyio

KEY = "exposure-sim-key"
ADMIN_ROUTES = [
    ("POST", "/_sim/reset", None),
    ("POST", "/_sim/faults", {"fault": "500"}),
    ("GET", "/_sim/faults", None),
    ("GET", "/_sim/stats", None),
]
FOREIGN_HOSTS = [
    "evil.example",
    "evil.example:8765",
    "127.0.0.1:80@evil.com",
    "127.0.0.1:abc",
    "10.0.0.1",
    "0.0.0.0",
]
LOOPBACK_HOSTS = ["127.0.0.1", "localhost:8765", "[::1]:1", "127.0.0.2"]


@pytest.fixture(scope="module")
def simulator() -> Iterator[ServerProcess]:
    # AAI_MCP_HOST/PORT configure `serve`; the simulator must not follow them onto 0.0.0.0.
    env = clean_env(AAI_MCP_HOST="0.0.0.0", AAI_MCP_PORT="1")
    with aai_mcp_process("simulate", "--key", KEY, env=env) as running:
        yield running


def admin_call(base: str, method: str, path: str, body: object, **headers: str | bytes) -> httpx.Response:
    return httpx.request(method, f"{base}{path}", json=body, headers=headers, timeout=30)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_need_the_key(simulator: ServerProcess, method: str, path: str, body: object) -> None:
    for headers in (
        {},
        {"Authorization": "sim-key"},
        {"Authorization": f"Bearer {KEY}x"},
        {"Authorization": b"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"},  # not ASCII
    ):
        answer = admin_call(simulator.base_url, method, path, body, **headers)
        assert answer.status_code == 401, (headers, answer.text)
    for header in (KEY, f"Bearer {KEY}"):
        assert admin_call(simulator.base_url, method, path, body, Authorization=header).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_admin_routes_need_a_loopback_host(
    simulator: ServerProcess, method: str, path: str, body: object, host: str
) -> None:
    answer = admin_call(simulator.base_url, method, path, body, Authorization=KEY, Host=host)
    assert answer.status_code == 421, answer.text


async def test_loopback_hosts_reach_the_admin_routes() -> None:
    app = build_simulator_app(SimulatorConfig(api_key=KEY))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        for host in LOOPBACK_HOSTS:
            answer = await client.get("/_sim/stats", headers={"Host": host, "Authorization": KEY})
            assert answer.status_code == 200, host
        twice = [("Host", "127.0.0.1"), ("Authorization", KEY), ("Authorization", "other")]
        assert (await client.get("/_sim/stats", headers=twice)).status_code == 401


def test_health_needs_nothing_and_the_simulator_stays_on_loopback(simulator: ServerProcess) -> None:
    assert httpx.get(f"{simulator.base_url}/healthz").json() == {"status": "ok"}
    stderr = simulator.stderr()
    assert f"AssemblyAI simulator at {simulator.base_url} " in stderr
    assert "WARNING" not in stderr


@pytest.mark.slow
def test_a_bind_beyond_loopback_warns_loudly_on_stderr() -> None:
    command = [sys.executable, "-m", "aai_mcp", "simulate", "--host", "0.0.0.0", "--port", "0"]
    process = subprocess.Popen(command, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    lines: list[bytes] = []
    try:
        # The warning comes before the banner; a crash ends the output (b"").
        while not lines or (lines[-1] and b"simulator at" not in lines[-1]):
            lines.append(process.stderr.readline())
    finally:
        stop(process)
        process.stderr.close()
    text = b"".join(lines).decode()
    assert "*** WARNING: the AssemblyAI simulator is listening on 0.0.0.0, beyond loopback. ***" in text
    assert "simulator at http://0.0.0.0:" in text


def simulate_help() -> str:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["simulate"].format_help()


def test_simulate_help_describes_its_own_host_and_port() -> None:
    text = " ".join(simulate_help().split())
    assert "Port the simulator binds; 0 picks a free port, printed on stderr. Must be from 0 to 65535" in text
    assert "[env AAI_MCP_SIMULATOR_PORT; file simulate.port; default 8765]" in text
    assert "Address the simulator binds; anything beyond loopback prints a warning." in text
    assert "[env AAI_MCP_SIMULATOR_HOST; file simulate.host; default '127.0.0.1']" in text
    assert "`serve`" not in text and "AAI_MCP_PORT" not in text and "AAI_MCP_HOST" not in text
    # serve's variables do not move the simulator: it neither clashes with serve's port nor follows it out.
    serve_env = {"AAI_MCP_HOST": "0.0.0.0", "AAI_MCP_PORT": "8000"}
    options = load_command(["simulate"], serve_env).of(SimulateOptions)
    assert (options.host, options.port) == ("127.0.0.1", 8765)


# --- second review: the check runs before routing, and looks at who is connected -----------------


@pytest.mark.parametrize("path", ["/_sim/stats/", "/_sim/reset/", "/_sim/faults/", "/_sim/", "/_sim"])
@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS", "DELETE"])
def test_a_foreign_host_is_refused_before_any_redirect_or_405(
    simulator: ServerProcess, method: str, path: str
) -> None:
    headers = {
        "Host": "evil.example",
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "POST",
    }
    answer = httpx.request(method, f"{simulator.base_url}{path}", headers=headers, timeout=30)
    assert answer.status_code == 421, (method, path, answer.status_code, answer.headers)
    assert "location" not in answer.headers and "access-control-allow-origin" not in answer.headers


async def admin_from(peer: tuple[str, int] | None) -> int:
    app = build_simulator_app(SimulatorConfig(api_key=KEY))
    transport = httpx.ASGITransport(app=app, client=peer)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return (await client.post("/_sim/reset", headers={"Authorization": KEY})).status_code


@pytest.mark.parametrize("peer", [("192.0.2.7", 40000), ("10.0.0.2", 1), ("::ffff:192.0.2.7", 1), None])
async def test_another_machine_cannot_reach_the_admin_routes_by_sending_a_loopback_host(
    peer: tuple[str, int] | None,
) -> None:
    # A browser cannot forge Host, but any other client can: the connection's address decides.
    assert await admin_from(peer) == 403


@pytest.mark.parametrize("peer", [("127.0.0.1", 1), ("127.0.0.9", 1), ("::1", 1), ("::ffff:127.0.0.1", 1)])
async def test_loopback_peers_reach_the_admin_routes(peer: tuple[str, int]) -> None:
    assert await admin_from(peer) == 200


def test_the_api_routes_stay_open_to_any_host(simulator: ServerProcess) -> None:
    # It plays api.assemblyai.com and the other hosts: only /_sim/ is local-only.
    reset = admin_call(simulator.base_url, "POST", "/_sim/reset", None, Authorization=KEY)
    assert reset.status_code == 200  # drops the faults other tests queued
    answer = httpx.get(
        f"{simulator.base_url}/v2/transcript",
        headers={"Host": "api.example", "Authorization": KEY},
        timeout=30,
    )
    assert answer.status_code == 200
