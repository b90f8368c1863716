"""What the revocation file may be: a regular file of bounded size, read without ever blocking.

A FIFO at the configured path used to freeze the whole server (open() waits for a writer, on the
event loop) and a link to /dev/zero to read forever; each now refuses tokens like a missing file."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from aai_mcp.access import RevocationList
from aai_mcp.access.revocation import MAX_REVOCATION_BYTES
from tests.support.servers import serve_in_thread
from tests.test_health import bearer, list_call, token_settings

JTI = "tok_aaaaaaaaaaaa"
# Generous for a loaded 2-core machine; a read that blocks never finishes at all.
DEADLINE = 30.0


def finishes(work: Callable[[], object], fifo: Path | None = None) -> object:
    """`work()`'s result, failing the test (instead of hanging it) when it has not returned in time.

    A reader stuck opening `fifo` is released by opening it for writing, so the thread ends."""
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(work()), daemon=True)
    worker.start()
    worker.join(DEADLINE)
    if worker.is_alive() and fifo is not None:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(DEADLINE)
    assert result, "reading the revocation file blocked"
    return result[0]


def test_a_fifo_refuses_tokens_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "revoked"
    os.mkfifo(path)
    problem = finishes(RevocationList(path).problem, fifo=path)
    assert problem == "revocation file unreadable (not a regular file)"


def test_a_device_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "revoked"
    path.symlink_to("/dev/zero")  # endless: read whole, it would fill memory
    assert finishes(RevocationList(path).problem) == "revocation file unreadable (not a regular file)"


def test_a_file_over_the_size_bound_refuses_tokens(tmp_path: Path) -> None:
    path = tmp_path / "revoked"
    path.write_bytes(b"# padding\n" * (MAX_REVOCATION_BYTES // 10 + 1))
    revocations = RevocationList(path)
    assert revocations.problem() == f"revocation file unreadable (larger than {MAX_REVOCATION_BYTES} bytes)"
    path.write_text(f"{JTI}\n")
    assert revocations.problem() is None and JTI in revocations


def test_links_to_a_regular_file_are_followed(tmp_path: Path) -> None:
    # Kubernetes mounts ConfigMaps and Secrets as links into a ..data directory.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "revoked").write_text(f"{JTI}\n")
    path = tmp_path / "revoked"
    path.symlink_to(tmp_path / "data" / "revoked")
    assert JTI in RevocationList(path)


@pytest.mark.parametrize("make", ["fifo", "directory", "dangling link", "missing directory"])
def test_the_server_keeps_answering_whatever_is_at_the_path(tmp_path: Path, make: str) -> None:
    path = tmp_path / "revoked"
    if make == "missing directory":
        path = tmp_path / "absent" / "revoked"
    with serve_in_thread(token_settings(token_revocation_file=path)) as base:
        path.parent.mkdir(exist_ok=True)
        plant: dict[str, Callable[[], object]] = {
            "fifo": lambda: os.mkfifo(path),
            "directory": path.mkdir,
            "dangling link": lambda: path.symlink_to(tmp_path / "nowhere"),
            "missing directory": lambda: None,
        }
        plant[make]()

        def probe() -> tuple[int, int]:
            health = httpx.get(f"{base}/healthz", timeout=DEADLINE)
            return health.status_code, list_call(base, bearer()).status_code

        assert finishes(probe, fifo=path if make == "fifo" else None) == (503, 503)
