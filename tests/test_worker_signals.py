"""`serve --workers`: a worker is forked with SIGTERM and SIGINT blocked, so a stop signal sent before
it has put back their default action waits for it instead of running the supervisor's handler in the
worker (which would then serve on until killed); the supervisor's own mask is left as it was."""

from __future__ import annotations

import signal
import socket
from typing import Any

import pytest

from aai_mcp.cli import worker_pool
from aai_mcp.cli.worker_pool import STOP_SIGNALS, Supervisor
from tests.support import make_settings


def test_a_worker_is_forked_with_the_stop_signals_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    masks: list[set[int | signal.Signals]] = []

    class Forked:
        def __init__(self, **options: Any) -> None:
            self.options = options

        def start(self) -> None:  # what the mask is at the fork
            masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))

    monkeypatch.setattr(worker_pool._fork, "Process", Forked)
    with socket.socket() as listener:
        supervisor = Supervisor(make_settings(workers=2), listener)
        supervisor.lifeline = supervisor.keepalive = None  # type: ignore[assignment]
        before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        supervisor.start(0)
        after = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert set(STOP_SIGNALS) <= masks[0]
    assert after == before and not set(STOP_SIGNALS) & after
