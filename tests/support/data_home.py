"""Keep the test run out of the user's data directory: the default store is
$XDG_DATA_HOME/aai-mcp (else ~/.local/share/aai-mcp), and a `serve` or a CLI run started by a test
without a store configured would create or read the real one there, so one run's leftovers changed
the next run's answers ("revoked: no (not in the store ...)"). Every process the run starts inherits
a temporary XDG_DATA_HOME instead, removed at the end."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_DATA_HOME = pytest.StashKey[tuple[str, str | None]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_DATA_HOME] = (tempfile.mkdtemp(prefix="aai-mcp-xdg-data-"), os.environ.get("XDG_DATA_HOME"))
    os.environ["XDG_DATA_HOME"] = config.stash[_DATA_HOME][0]


def pytest_unconfigure(config: pytest.Config) -> None:
    made, before = config.stash[_DATA_HOME]
    shutil.rmtree(made, ignore_errors=True)
    if before is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = before
