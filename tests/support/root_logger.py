"""Give every test the root logger it started with.

`aai-mcp serve`, `stdio` and `simulate` install a handler on the root logger that writes to the
`sys.stderr` of the moment; run in process by a test, that is pytest's capture file, closed when the
test ends. Left installed, every later log line from any thread (a loopback server another test
started) printed "--- Logging error --- ValueError: I/O operation on closed file" into the run's
output. Restoring the handlers and level after each test keeps one test's logging out of the next.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    httpx_level = logging.getLogger("httpx").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(httpx_level)
