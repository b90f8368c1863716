"""`aai-mcp doctor` against the standalone simulator (`aai-mcp simulate`, key sim-key) on loopback."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from aai_mcp.cli.main import main
from tests.support.redis import RedisServer
from tests.support.servers import aai_mcp_process, clean_env, free_port

SIM_KEY = "sim-key"
HOSTS = ("api", "llm-gateway", "streaming", "agents", "sync", "dictation", "tts", "token")


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with aai_mcp_process("simulate", "--key", SIM_KEY, env=clean_env()) as running:
        yield running.base_url


@pytest.fixture(autouse=True)
def no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("AAI_MCP_") or name == "ASSEMBLYAI_API_KEY"]:
        monkeypatch.delenv(name)


def hosts_at(url: str) -> list[str]:
    return [arg for host in HOSTS for arg in (f"--{host}-base-url", url)]


def doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["doctor", "--port", str(free_port()), *argv])
    out, err = capsys.readouterr()
    assert SIM_KEY not in out + err and "wrong-key-123" not in out + err, "doctor never prints the key"
    return code, out.splitlines()


def line_of(lines: list[str], subject: str) -> str:
    (found,) = [line for line in lines if line.split(maxsplit=1)[1].startswith(subject + ":")]
    return found


def test_a_good_key_and_reachable_hosts_are_all_ok(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, simulator: str
) -> None:
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", SIM_KEY)
    code, lines = doctor(capsys, *hosts_at(simulator))
    assert code == 0, lines
    assert line_of(lines, "API key") == f"ok       API key: set, and AssemblyAI accepts it ({simulator})"
    for host in HOSTS:
        assert line_of(lines, f"{host} host") == (
            f"ok       {host} host: {simulator} is reachable (set by --{host}-base-url)"
        )
    assert all(line.startswith("ok ") for line in lines), lines


def test_a_bad_key_is_a_problem_in_plain_words(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, simulator: str
) -> None:
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", "wrong-key-123")
    code, lines = doctor(capsys, *hosts_at(simulator))
    assert code == 1
    assert line_of(lines, "API key") == (
        f"problem  API key: AssemblyAI rejected ASSEMBLYAI_API_KEY (HTTP 401 from {simulator}). "
        "Fix: copy the key again from your AssemblyAI dashboard; a key of an EU account needs --region eu"
    )
    assert line_of(lines, "api host").startswith("ok "), "the host answered: only the key is wrong"


def test_an_unreachable_host_is_a_problem_in_plain_words(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, simulator: str
) -> None:
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", SIM_KEY)
    closed = f"http://127.0.0.1:{free_port()}"
    code, lines = doctor(capsys, *hosts_at(simulator), "--api-base-url", closed)
    assert code == 1
    assert line_of(lines, "api host") == (
        f"problem  api host: cannot reach {closed} (connection refused: nothing listens there). "
        "Fix: check the network, firewall or proxy; or point --api-base-url at the right address"
    )
    assert line_of(lines, "API key").startswith(
        f"problem  API key: could not be checked: cannot reach {closed}"
    )
    assert line_of(lines, "llm-gateway host").startswith("ok ")


def test_a_missing_key_says_the_simulator_is_serving(
    capsys: pytest.CaptureFixture[str], simulator: str
) -> None:
    code, lines = doctor(capsys, *hosts_at(simulator))
    assert code == 1
    assert line_of(lines, "API key").startswith(
        "problem  API key: ASSEMBLYAI_API_KEY is not set, so aai-mcp serves its simulator (fake results). "
        "Fix: export ASSEMBLYAI_API_KEY="
    )


def test_a_base_url_with_a_path_is_a_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, simulator: str
) -> None:
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", SIM_KEY)
    _, lines = doctor(capsys, *hosts_at(simulator), "--api-base-url", f"{simulator}/v2")
    assert line_of(lines, "api host") == (
        f"problem  api host: {simulator}/v2 has a path (/v2); the tools add their own. "
        f"Fix: give --api-base-url the bare origin, {simulator}"
    )


def test_token_auth_without_a_secret_is_a_problem_and_with_one_ok(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, simulator: str
) -> None:
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", SIM_KEY)
    code, lines = doctor(capsys, *hosts_at(simulator), "--auth", "tokens")
    assert code == 1
    assert line_of(lines, "token secret").startswith(
        "problem  token secret: --auth tokens needs a signing secret, and none is set. "
        'Fix: export AAI_MCP_TOKEN_SECRETS="$(python -c'
    )
    monkeypatch.setenv("AAI_MCP_TOKEN_SECRETS", "t" * 48)
    code, lines = doctor(capsys, *hosts_at(simulator), "--auth", "tokens")
    assert code == 0, lines
    assert line_of(lines, "auth") == "ok       auth: tokens (token signing secret set)"


def test_upload_roots_must_exist_and_be_directories(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, simulator: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", SIM_KEY)
    a_file = tmp_path / "call.wav"
    a_file.write_bytes(b"RIFF")
    roots = f"{tmp_path},{tmp_path / 'missing'},{a_file}"
    code, lines = doctor(capsys, *hosts_at(simulator), "--upload-roots", roots)
    assert code == 1
    roots_lines = [line for line in lines if "upload root:" in line]
    fix = "Fix: create it, or correct --upload-roots / AAI_MCP_UPLOAD_ROOTS"
    assert roots_lines == [
        f"ok       upload root: {tmp_path} is a directory",
        f"problem  upload root: {tmp_path / 'missing'} does not exist. {fix}",
        f"problem  upload root: {a_file} is not a directory. {fix}",
    ]


def test_a_busy_port_is_a_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, simulator: str
) -> None:
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", SIM_KEY)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines = doctor(capsys, *hosts_at(simulator), "--port", str(port))
    assert code == 1
    assert line_of(lines, "port").startswith(
        f"problem  port: 127.0.0.1:{port}: the port is already in use (another aai-mcp or program)"
    )


def test_redis_is_checked_when_configured_and_its_password_never_printed(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    simulator: str,
    shared_redis: RedisServer,
) -> None:
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", SIM_KEY)
    _, lines = doctor(capsys, *hosts_at(simulator))
    assert not [line for line in lines if "shared state" in line], "no Redis configured: no line"

    shown = f"redis://:***@127.0.0.1:{shared_redis.port}/0"
    wrong_password = shared_redis.url.replace(shared_redis.password, "not-the-password")
    dead_port = f"redis://:{shared_redis.password}@127.0.0.1:{free_port()}/0"
    expected = {
        shared_redis.url: f"ok       shared state: Redis at {shown} answers",
        wrong_password: f"problem  shared state: Redis at {shown} refused the password",
        dead_port: "problem  shared state: Redis at redis://:***@127.0.0.1:",
    }
    for url, start in expected.items():
        monkeypatch.setenv("AAI_MCP_REDIS_URL", url)
        code, lines = doctor(capsys, *hosts_at(simulator))
        assert line_of(lines, "shared state").startswith(start), lines
        assert (code == 0) == url.startswith(shared_redis.url), lines
        assert shared_redis.password not in "\n".join(lines) and "not-the-password" not in "\n".join(lines)
