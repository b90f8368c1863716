"""Threads that would keep the test process from exiting.

A CI run printed its summary and then hung in `threading._shutdown` on an idle, non-daemon "AnyIO
worker thread": anyio stops a worker when the task it was lent to finishes, and this one's task never
finished (or its loop closed first). This plugin records where and during which test every AnyIO
worker thread was made; at the end it names each non-daemon thread still alive with that record and
its stack, then tells the leftover AnyIO workers to stop (anyio's own `stop`), so the run ends and the
culprit is in the log instead of a timeout.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from typing import Any

from anyio._backends import _asyncio

_original_init = _asyncio.WorkerThread.__init__


def _recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self.made_during = os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)")
    self.made_at = "".join(traceback.format_stack(limit=25)[:-1])


_asyncio.WorkerThread.__init__ = _recording_init  # type: ignore[method-assign]


def pytest_unconfigure() -> None:
    main = threading.main_thread()
    blocking = [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]
    if not blocking:
        return
    out = sys.__stderr__
    assert out is not None
    frames = sys._current_frames()
    print(f"\n{len(blocking)} non-daemon thread(s) alive at exit:", [t.name for t in blocking], file=out)
    for thread in blocking:
        print(f"--- {thread.name}", file=out)
        frame = frames.get(thread.ident or -1)
        if frame is not None:
            print("".join(traceback.format_stack(frame)[-6:]), file=out)
        if isinstance(thread, _asyncio.WorkerThread):
            root = thread.root_task
            print(f"made during {getattr(thread, 'made_during', '?')}", file=out)
            closed = thread.loop.is_closed()
            print(f"its task {root.get_name()} done={root.done()}; loop closed={closed}", file=out)
            print(f"made at:\n{getattr(thread, 'made_at', '?')}", file=out)
            thread.stop()
