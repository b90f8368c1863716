"""A real PostgreSQL server for the test session: started once, on loopback, in a temp directory,
stopped by its pid at the end; each test gets a database of its own.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (setpriv, no
shell or PAM in between, so the pid we hold is the server's own). Missing binaries FAIL the tests
that need them, with how to install them: never a silent skip.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

INSTALL_HINT = (
    "PostgreSQL is needed by the store tests and was not found. Install it: "
    "`apt-get install -y --no-install-recommends postgresql` (Debian/Ubuntu; scripts/test does this when "
    "run as root), or without root `pip install pgserver` (a PostgreSQL in a wheel, found automatically), "
    "or put a PostgreSQL bin directory (with initdb, postgres) on PATH or in AAI_MCP_PG_BIN."
)
START_DEADLINE_SECONDS = 90.0  # generous: a loaded 2-core machine runs initdb and the start slowly
RUN_AS = "postgres"


@dataclass
class PostgresServer:
    port: int
    password: str
    root: Path
    process: subprocess.Popen[bytes]
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        """A URL with the password in it, as an operator would write AAI_MCP_DATABASE_URL."""
        return f"postgresql://aai:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"store_test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def pg_bin_dir() -> Path | None:
    configured = os.environ.get("AAI_MCP_PG_BIN")
    candidates = [Path(configured)] if configured else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    on_path = shutil.which("initdb")
    candidates += [Path(on_path).parent] if on_path else []
    wheel = importlib.util.find_spec("pgserver")
    if wheel is not None and wheel.origin is not None:
        candidates.append(Path(wheel.origin).parent / "pginstall" / "bin")
    return next((path for path in candidates if (path / "initdb").exists()), None)


def start_postgres() -> PostgresServer:
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="aai-mcp-pg-"))
    password = secrets.token_urlsafe(18)
    (root / "pwfile").write_text(password + "\n")
    _hand_to_server_user(root)
    as_user = _as_server_user()
    data = root / "data"
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "aai", "--pwfile", str(root / "pwfile")]
    _initdb([*as_user, *initdb, "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"], root)
    port = _free_port()
    # Durability is not under test on this throwaway server: skipping fsync spares the shared disk.
    settings = [f"unix_socket_directories={root}", "fsync=off", "synchronous_commit=off"]
    options = ["-p", str(port), "-c", "listen_addresses=127.0.0.1", *(f"-c{item}" for item in settings)]
    with (root / "server.log").open("wb") as log:  # the server keeps its own copy of the descriptor
        command = [*as_user, str(bin_dir / "postgres"), "-D", str(data), *options]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = PostgresServer(port, password, root, process)
    _wait_ready(server)
    return server


def stop_postgres(server: PostgresServer) -> None:
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGINT)  # "fast" shutdown: roll back, close, exit
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    shutil.rmtree(server.root, ignore_errors=True)


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={RUN_AS}", f"--regid={RUN_AS}", "--init-groups", "--"]


def _hand_to_server_user(root: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(RUN_AS)
    except KeyError:
        missing = f"running as root, the tests start PostgreSQL as user {RUN_AS!r}, which is missing. "
        pytest.fail(missing + INSTALL_HINT, pytrace=False)
    for path in (root, root / "pwfile"):
        os.chown(path, user.pw_uid, user.pw_gid)


def _initdb(command: list[str], root: Path) -> None:
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=START_DEADLINE_SECONDS)
    if result.returncode != 0:
        pytest.fail(f"initdb failed: {result.stderr.strip()[-2000:]}", pytrace=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(server: PostgresServer) -> None:
    """Polls with a deadline: the server announces readiness only in its log."""
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while True:
        if server.process.poll() is not None:
            log = (server.root / "server.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"PostgreSQL exited at start: {log}", pytrace=False)
        with contextlib.suppress(psycopg.OperationalError):
            psycopg.connect(server.url(), connect_timeout=5).close()
            return
        if time.monotonic() > deadline:
            stop_postgres(server)
            pytest.fail(f"PostgreSQL did not accept connections within {START_DEADLINE_SECONDS} s")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the whole session (its start costs seconds)."""
    server = start_postgres()
    try:
        yield server
    finally:
        stop_postgres(server)
