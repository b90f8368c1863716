"""`serve --workers N`: N worker processes serving one listening socket, and the supervisor over them.

The supervisor binds the socket and checks everything (`serving.serve`), then forks each worker, as
gunicorn does: the modules are already imported, so a worker (or its replacement) serves within a
second instead of importing everything again, and shares those pages with its siblings. A fork is safe
here because the supervisor has no thread, event loop or open connection yet (the store it opened to
check the schema is closed first); each worker then builds its own gateway, store and upstream
clients.

Each worker listens on a socket of its own, bound to the supervisor's address with SO_REUSEPORT, and
the kernel spreads new connections over them by their addresses. One socket shared by every worker
would not spread them: the first worker woken takes every connection waiting (asyncio accepts up to
its backlog at once), so a burst of clients, each keeping its connection, all landed on one worker.
The supervisor's own socket only holds the port (and proved it free); it never listens, so the
kernel never queues a connection on it.

Signals: SIGTERM or SIGINT to the supervisor is passed on to every worker as SIGTERM, which drains as
a single server does (`--shutdown-grace-seconds`); the supervisor exits 0 once all have stopped, 1 if
one had to be killed. Workers sit in a process group of their own, so a Ctrl-C in the terminal reaches
the supervisor alone (a second SIGINT would make uvicorn cut the grace period short), and each worker
stops itself if the supervisor dies (the pipe it reads from ends).

Deaths: a worker that dies after it started serving is started again (at most MAX_RESTARTS within
RESTART_WINDOW_SECONDS, else the supervisor stops everything and exits 1); a worker that exits before
it ever served (a broken configuration, which every restart would repeat) stops the supervisor, which
exits 1.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from types import FrameType

from aai_mcp.config.settings import Settings

MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
STOP_MARGIN_SECONDS = 10.0
"""Beyond the shutdown grace period, how long a worker may take to exit before it is killed."""

_fork = multiprocessing.get_context("fork")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class Worker:
    """One worker process; `ready` is set once it serves."""

    index: int
    process: BaseProcess
    ready: Event

    @property
    def label(self) -> str:
        return f"worker {self.index} (pid {self.process.pid})"


@dataclass
class Supervisor:
    settings: Settings
    listener: socket.socket
    workers: list[Worker] = field(default_factory=list)
    restarts: deque[float] = field(default_factory=deque)
    stop: threading.Event = field(default_factory=threading.Event)
    lifeline: Connection = field(init=False)
    keepalive: Connection = field(init=False)

    def run(self) -> int:
        # Every worker watches the read end; the write end stays open in this process alone (each
        # worker closes its inherited copy), so the workers read an end of file when it is gone.
        self.lifeline, self.keepalive = _fork.Pipe(duplex=False)
        try:
            self.workers = [self.start(index) for index in range(self.settings.workers)]
            failed = self.watch()
            killed = self.stop_all()
        finally:
            self.keepalive.close()
            self.lifeline.close()
        return 1 if failed or killed else 0

    def start(self, index: int) -> Worker:
        ready = _fork.Event()
        args = (self.settings, self.listener, index, ready, self.lifeline, self.keepalive)
        process = _fork.Process(target=worker_main, args=args, name=f"aai-mcp-worker-{index}")
        # Forked with the stop signals blocked: one arriving before the worker has put back their
        # default action would otherwise run the supervisor's handler in the worker, which would then
        # ignore it and serve on until killed. Blocked, it waits for the worker to unblock it.
        before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
        return Worker(index, process, ready)

    def watch(self) -> bool:
        """Until a stop signal (False) or a death that must stop everything (True)."""
        while not self.stop.is_set():
            wait([w.process.sentinel for w in self.workers], timeout=0.2)
            for position, worker in enumerate(self.workers):
                if worker.process.is_alive() or self.stop.is_set():
                    continue
                replacement = self.replace(worker)
                if replacement is None:
                    return True
                self.workers[position] = replacement
        return False

    def replace(self, worker: Worker) -> Worker | None:
        """A new worker in the dead one's place, or None when it must not be restarted."""
        worker.process.join()
        code = worker.process.exitcode
        if not worker.ready.is_set():
            say(f"{worker.label} exited with code {code} before it served; stopping every worker")
            return None
        now = time.monotonic()
        self.restarts.append(now)
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW_SECONDS:
            self.restarts.popleft()
        if len(self.restarts) > MAX_RESTARTS:
            say(f"{worker.label} exited with code {code}: more than {MAX_RESTARTS} restarts in "
                f"{RESTART_WINDOW_SECONDS:.0f} s; stopping every worker")  # fmt: skip
            return None
        say(f"{worker.label} exited with code {code}; starting it again")
        return self.start(worker.index)

    def stop_all(self) -> bool:
        """SIGTERM to every worker, then wait out their grace period; True when one had to be killed."""
        for worker in self.workers:
            if worker.process.is_alive() and worker.process.pid is not None:
                os.kill(worker.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds + STOP_MARGIN_SECONDS
        killed = False
        for worker in self.workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                say(f"{worker.label} did not stop in time; killing it")
                worker.process.kill()
                worker.process.join()
                killed = True
        return killed

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()


def supervise(settings: Settings, listener: socket.socket) -> int:
    """Run `settings.workers` workers on `listener` until SIGTERM/SIGINT; the exit status."""
    supervisor = Supervisor(settings, listener)
    previous = {sig: signal.signal(sig, supervisor.on_signal) for sig in STOP_SIGNALS}
    try:
        return supervisor.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def worker_main(
    settings: Settings,
    listener: socket.socket,
    index: int,
    ready: Event,
    lifeline: Connection,
    keepalive: Connection,
) -> None:
    """A worker process: serve until SIGTERM (or the supervisor's end), exit with serve's status."""
    from aai_mcp.cli.serving import bind, serve_worker

    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)  # the supervisor's handlers came along with the fork
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by Supervisor.start
    keepalive.close()
    os.setpgid(0, 0)
    threading.Thread(target=_stop_when_orphaned, args=(lifeline,), daemon=True).start()
    host, port = listener.getsockname()[:2]
    listener.close()
    try:
        own = bind(host, port, reuse_port=True)
    except OSError as exc:
        print(f"aai-mcp: worker {index} cannot listen on port {port}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(serve_worker(worker_settings(settings, index), own, ready.set))


def worker_settings(settings: Settings, index: int) -> Settings:
    """A worker's settings: a given `--instance-id` gets the worker's number, so each worker still
    names itself apart in X-AAI-MCP-Instance (a random name already differs per process)."""
    if settings.instance_id is None:
        return settings
    return settings.model_copy(update={"instance_id": f"{settings.instance_id}-{index}"})


def _stop_when_orphaned(lifeline: Connection) -> None:
    try:
        lifeline.recv()  # nothing is ever sent: this returns (EOFError) when the supervisor is gone
    except (EOFError, OSError):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def say(line: str) -> None:
    print(f"aai-mcp: {line}", file=sys.stderr, flush=True)
